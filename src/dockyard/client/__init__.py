"""Typed Engine API client used by cli/, compose/ and later machine/.

`transport` is the small HTTP/1.1 client (imported by every CLI command, so kept lean); `engine`
holds typed calls and records for the callers that need more than one request (compose).
"""
