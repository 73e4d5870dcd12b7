"""The desktop window. Everything Qt lives here; it talks to the engine through bridge.py."""
