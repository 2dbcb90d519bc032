"""Interatomic potentials: energy networks over :class:`GraphBatch`."""
