"""`neurophys sweep`: every combination of a grid of settings is one HIL run; the runs execute
in parallel on Ray (a local one, or a cluster whose hosts declare the boards attached to them
as custom resources), or one after another in this process."""
