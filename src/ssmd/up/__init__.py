"""``ssmd up``: the whole pipeline on one machine, as supervised child processes."""
