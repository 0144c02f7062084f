"""Dockerfile builds: parsing, the build context, instructions, stages and the step cache."""
