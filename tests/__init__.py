"""path2prod's tests: a package, so `tests.support` is importable from every suite and from bench/."""
