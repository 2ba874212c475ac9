"""The trading loop's building blocks: lease, toggle, replay feed, the tick pipeline."""
