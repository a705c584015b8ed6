"""Pure domain: dataclasses, value objects, policies and error codes. No I/O, no Qt."""
