from .fixtures import emulator, world

__all__ = ["emulator", "world"]
