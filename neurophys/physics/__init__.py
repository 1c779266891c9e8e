"""Reference physics, float64: Hopfield relaxation (EP), Kirchhoff circuits, doubled-field flow."""
