"""Network drivers: what a kind of network does in the kernel (driver.py is the interface,
bridge.py the first driver, registry.py how the engine finds one by name)."""
