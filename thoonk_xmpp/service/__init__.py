"""XEP-0060 publish-subscribe semantics over Thoonk feeds, free of any stanza."""
