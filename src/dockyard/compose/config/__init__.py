"""Loading compose files: discovery, YAML, schema, interpolation, include, extends, merge, profiles."""
