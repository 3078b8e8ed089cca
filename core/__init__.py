"""The ground floor: what every app uses and no app owns.

One-line text, the client's address, paging without counting, form helpers, the domain's
refusals and how the API answers them. Nothing here imports an app of illdesk's; every app
may import from here (docs/decisions.md, "The floor plan").
"""
