"""Dead-letter queues worked, not just watched: what is parked, decoded, and redriven through its handler."""

# The `parked_by` of the recorder's own dead-letter record (recorder/service.py writes it, records.py reads
# it): here, so the recorder's cold start does not import the decoder.
RECORDER_PARKED_BY = "path2prod-recorder"
