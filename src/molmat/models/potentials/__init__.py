"""Interatomic potentials: energy networks over :class:`AtomsBatch`."""
