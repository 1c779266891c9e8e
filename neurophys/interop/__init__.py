"""Import/export between neurophys graphs and other representations (NIR); optional dependencies are
imported lazily inside each module."""
