"""Ticketing providers: the Linear GraphQL and Jira Cloud REST clients, one package each.

Each provider package owns its transport, authentication, error mapping and rate-limit reading;
the poller and the dispatch reconciler will depend on a narrow `Protocol` of the calls they need.
"""
