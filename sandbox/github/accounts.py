"""The users and teams the stand-in knows: its own user `sandbox-user` and those added through the admin API.

They exist so that environment reviewers (given by id) can be looked up the way a module does it:
GET /users/{username} for a user's id, GET /orgs/{org}/teams/{team_slug} for a team's. Neither needs a token scope
here (reading a public profile needs none on GitHub; a team's visibility rules are not modelled).
"""
import time
from dataclasses import dataclass, field


@dataclass
class User:
    login: str
    id: int
    name: str = None
    created: float = field(default_factory=time.time)


@dataclass
class Team:
    org: str
    org_id: int
    slug: str
    id: int
    name: str
    created: float = field(default_factory=time.time)
