from .files import AsyncFiles, Files

__all__ = ["AsyncFiles", "Files"]
