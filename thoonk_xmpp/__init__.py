"""thoonk-xmpp: Thoonk feeds, queues and jobs on Redis, served over XMPP pubsub."""

__version__ = "0.1.0"
