"""costmodel: per-layer cost (params, multiply-adds, memory access) and latency of PyTorch CNNs."""
__version__ = "0.1.0"
