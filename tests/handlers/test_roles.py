"""The role matrix: every command and button × every role × private and group chat.

The expectations come from the one command table (router.COMMANDS): a command added there is in
this matrix at once, so none can be added without its role being checked here.
"""

from __future__ import annotations

import pytest

from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import Action, Alert, Edit, Send, SendDocument, SendPhoto
from reportbot.handlers.router import COMMANDS
from reportbot.rules.model import Role, Status
from tests.conftest import local
from tests.office import GROUP, LI, Chat, only, open_office, report_text

pytestmark = pytest.mark.usefixtures("both_paths")

PEOPLE = {None: "999", Role.CANVASSER: "103", Role.ASSISTANT: "102", Role.MANAGER: "104", Role.ADMIN: "105"}
DENIED = "及以上可以使用"
UNREGISTERED = "还没有登记"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Roles do not depend on the database: the matrix runs on SQLite only."""
    return sqlite_url


# The manager tools' rows, stated here as well as in the table, so that a changed min_role is seen.
EXPECTED_MIN_ROLES = {
    "stats": Role.ASSISTANT,  # an assistant for their own project (tests/handlers/test_manager_stats.py)
    "deal": Role.ASSISTANT,
    "export": Role.MANAGER,
    "projects": Role.ADMIN,
    "move": Role.ADMIN,
}


def answer_in(actions: list[Action], chat: str) -> str:
    """The bot's first answer in ``chat``: a message's text, or a photo's or document's caption."""
    answers = [a.text if isinstance(a, Send) else a.caption for a in actions
               if isinstance(a, Send | SendPhoto | SendDocument) and a.chat_id == chat]
    assert answers, f"no answer in {chat}: {actions}"
    return answers[0]


def test_the_manager_tools_are_open_to_exactly_the_expected_roles() -> None:
    table = {c.name: c.min_role for c in COMMANDS}
    assert {name: table[name] for name in EXPECTED_MIN_ROLES} == EXPECTED_MIN_ROLES


async def office_with_admin(svc: Services) -> None:
    await open_office(svc)
    await directory.add_staff(svc.db, NewStaff("管理员", "总部", "admin", "105", project="森林半岛"), local("2026-11-20 09:00"))


@pytest.mark.parametrize("in_group", [False, True], ids=["private", "group"])
@pytest.mark.parametrize("role", list(PEOPLE), ids=lambda r: r.value if r else "unregistered")
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
async def test_every_command_is_allowed_exactly_to_its_roles(svc: Services, command, role, in_group: bool) -> None:  # type: ignore[no-untyped-def]
    await office_with_admin(svc)
    user = PEOPLE[role]
    chat = GROUP if in_group else user
    answer = answer_in(await Chat(svc).say(user, f"/{command.name}", group=GROUP if in_group else None), chat)
    if role is None:
        assert UNREGISTERED in answer
    elif role.at_least(command.min_role):
        assert DENIED not in answer and UNREGISTERED not in answer
    else:
        assert DENIED in answer


@pytest.mark.parametrize("role", list(PEOPLE), ids=lambda r: r.value if r else "unregistered")
@pytest.mark.parametrize("label", ["确认", "驳回"])
async def test_the_card_buttons_are_checked_on_the_server_for_every_role(svc: Services, role, label: str) -> None:  # type: ignore[no-untyped-def]
    await office_with_admin(svc)
    chat = Chat(svc)
    card = only(await chat.say(LI, report_text()), GROUP)
    actions = await chat.press(PEOPLE[role], card, label)
    allowed = role is not None and role.at_least(Role.ASSISTANT)
    assert any(isinstance(a, Edit) for a in actions) == allowed
    assert all(isinstance(a, Alert) for a in actions) != allowed
    async with svc.db.uow(write=False) as uow:
        report = await uow.reports.get(1)
    assert report is not None
    expected = Status.CONFIRMED if allowed and label == "确认" else Status.PENDING
    assert report.status is expected
