"""Integer graph -> C: the network's sources, its row-streaming schedule, and the export folder as a self-contained library."""
