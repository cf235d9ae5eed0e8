"""The local sandbox: the same architecture on one machine, with emulated accounts (moto)."""
