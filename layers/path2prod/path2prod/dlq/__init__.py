"""Dead-letter queues worked, not just watched: what is parked, decoded, and redriven through its handler."""
