"""Example models for ``upconform audit`` (built from published architectures; random weights)."""
