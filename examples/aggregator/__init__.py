"""The Distributed Data Stream Aggregator blueprint: definitions, the consolidation job, a test API."""
