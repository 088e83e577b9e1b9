"""The slixmpp adapter: stanzas in, service calls, stanzas out."""
