"""NIR spiking networks on Lava (sim.py). A folder of its own: Lava executes every module in a
Process's folder when it looks up models, so nothing here sits beside the learning backend's."""
