"""The image catalog: familiar images (busybox, debian, nginx, redis, postgres, ...) built locally
and reproducibly from Debian packages with mmdebstrap, then loaded through the Engine API.

A client-side feature: recipes, the package cache and the bootstrap run next to the CLI, and the
daemon only sees a `docker load` archive (`POST /images/load`). See docs/design/catalog.md.
"""
