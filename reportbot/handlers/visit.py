"""Use cases of the visit (SPEC §5): /visit decides ownership; /claim, /revoke, /release amend it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from reportbot.handlers.context import Services, Unit
from reportbot.handlers.identity import CHAT_CHANNELS, group_chat, private_chat_of
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.handlers.people import named_staff
from reportbot.rules.args import parse_past_time, parse_phone_and_labels, parse_visit
from reportbot.rules.model import ACTIVE_STATUSES, EventKind, Project, Staff, Status, Visit
from reportbot.rules.ownership import RULE_LABELS, Rule, decide_owner, proof_precedes_visit
from reportbot.rules.phone import Phone
from reportbot.rules.privacy import same_customer
from reportbot.rules.refusal import Refusal
from reportbot.rules.reminders import plan_for_visit
from reportbot.storage.tables import VisitRow

GROUP_CHANNELS = CHAT_CHANNELS  # the channels a project may have a group on (identity.group_chat)


@dataclass(frozen=True)
class Announcement:
    """Who owns the customer now, and why, to be told to the group and to the owner."""

    visit: Visit
    rule: Rule
    detail: str | None = None


def _usage(svc: Services, msg: Incoming, command: str, problem: Refusal | str | None = None) -> list[Action]:
    text = svc.render.refusal(problem) if isinstance(problem, Refusal) else problem
    return [Send(msg.chat_id, svc.render("usage.j2", command=command, problem=text))]


async def _one_person(uow: Unit, name: str, team: str | None) -> Staff | str:
    found = await named_staff(uow, name, team)
    if len(found) == 1:
        return found[0]
    return f"没有找到“{name}”" if not found else f"有不止一位“{name}”，请加上 队名："


async def _plan_follow_ups(uow: Unit, visit: Visit, svc: Services, at_key: str) -> None:
    if visit.owner_id is None:
        return
    for plan in plan_for_visit(visit.last_activity_at, svc.policy):
        await uow.reminders.plan(
            f"{plan.kind}:{visit.id}:{at_key}", plan.kind, visit.project_id, plan.due,
            visit_id=visit.id, staff_id=visit.owner_id,
        )


async def handle_visit(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """Register a visit; the rule of SPEC §5 decides the owner, announced to the group and the owner."""
    parsed = parse_visit(args, svc.policy.mask_suffix_digits)
    if isinstance(parsed, Refusal):
        return _usage(svc, msg, "visit", parsed)
    brought_id: int | None = None
    if parsed.brought:
        async with svc.db.uow(write=False) as uow:
            person = await _one_person(uow, parsed.brought, parsed.team)
        if isinstance(person, str):
            return _usage(svc, msg, "visit", person)
        brought_id = person.id
    result = await record_visit(svc, project, sender, parsed.phone, parsed.companions, brought_id, msg.now)
    if isinstance(result, Visit):
        return [Send(msg.chat_id, svc.render("revisit.j2", v=result))]
    return await _announce(svc, msg, project, result)


async def record_visit(
    svc: Services, project: Project, sender: Staff, phone: Phone, companions: int, brought_id: int | None,
    now: datetime, *, via: str | None = None, exact: str | None = None,
) -> Announcement | Visit:
    """Register the customer's visit and decide the owner (SPEC §5); the earlier visit if there was one.
    The same for /visit and the web desk (``via``: "网页" names the way in the event's detail; ``exact``:
    the keyed hash of a full number the desk was given earlier, when ``phone`` is masked by now)."""
    try:
        return await _record_visit(svc, project, sender, phone, companions, brought_id, now, via, exact)
    except IntegrityError:  # registered at the same moment elsewhere: the first stands
        return await _record_visit(svc, project, sender, phone, companions, brought_id, now, via, exact)


async def _record_visit(
    svc: Services, project: Project, sender: Staff, written: Phone, companions: int, brought_id: int | None,
    now: datetime, via: str | None, exact: str | None,
) -> Announcement | Visit:
    phone, phone_hash = written.masked, exact or svc.phone_hash(written)
    async with svc.db.uow() as uow:
        await uow.visits.lock_customer(project.id, phone)
        earlier = await uow.visits.of_customer(project.id, phone, phone_hash)
        if earlier is not None:
            again = "；".join(x for x in (f"同行{companions}人" if companions else "", f"经{via}登记" if via else "") if x)
            await uow.events.add(project_id=project.id, phone=phone, kind=EventKind.REVISITED, actor_id=sender.id,
                                 at=now, detail=again or None)
            await uow.commit()
            return earlier
        active = await uow.reports.active_for(project.id, phone)
        if active is not None and not same_customer(active.phone_hash, phone_hash):
            active = None  # the report is another customer's who shares the masked number
        decision = decide_owner(active, brought_id)
        if decision.report_id is not None:
            await uow.reports.set_status(decision.report_id, Status.VISITED, only_from=ACTIVE_STATUSES)
        visit = await uow.visits.add(
            VisitRow(project_id=project.id, phone=phone, at=now, registered_by_id=sender.id,
                     brought_by_id=brought_id, companions=companions, rule=decision.rule.value,
                     owner_id=decision.owner_id, report_id=decision.report_id, last_activity_at=now,
                     phone_hash=phone_hash)
        )
        detail = RULE_LABELS[decision.rule] + (f"；同行{companions}人同归属" if companions else "")
        detail += f"；经{via}登记" if via else ""
        await uow.events.add(project_id=project.id, phone=phone, kind=EventKind.VISITED, actor_id=sender.id,
                             at=now, report_id=decision.report_id, detail=detail[:200])
        await _plan_follow_ups(uow, visit, svc, "visit")
        await uow.commit()
    return Announcement(visit, decision.rule)


async def _announce(svc: Services, msg: Incoming, project: Project, news: Announcement) -> list[Action]:
    text = svc.render("ownership.j2", v=news.visit, rule=RULE_LABELS[news.rule], detail=news.detail)
    targets = [group_chat(project, msg.channel), msg.chat_id]
    async with svc.db.uow(write=False) as uow:
        if news.visit.owner_id is not None:
            targets.append(await private_chat_of(uow, news.visit.owner_id, msg.channel))
    chats = [c for c in dict.fromkeys(targets) if c]
    return [Send(chat, text) for chat in chats]


async def announce_everywhere(svc: Services, project: Project, news: Announcement) -> list[Action]:
    """The announcement of a visit registered outside any chat (the web desk): to the project's group on every
    channel it has one, and to the owner on the first channel they are on; each Send names its channel."""
    text = svc.render("ownership.j2", v=news.visit, rule=RULE_LABELS[news.rule], detail=news.detail)
    actions: list[Action] = [Send(chat, text, channel=channel) for channel in GROUP_CHANNELS
                             if (chat := group_chat(project, channel))]
    if news.visit.owner_id is not None:
        async with svc.db.uow(write=False) as uow:
            for channel in GROUP_CHANNELS:
                if chat := await private_chat_of(uow, news.visit.owner_id, channel):
                    actions.append(Send(chat, text, channel=channel))
                    break
    return actions


async def handle_claim(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """A report sent before the visit, proven afterwards: the manager records the proof (SPEC §5)."""
    parsed = parse_phone_and_labels(args, svc.policy.mask_suffix_digits)
    if isinstance(parsed, Refusal):
        return _usage(svc, msg, "claim", parsed)
    phone, values = parsed
    values = {k: svc.scrub(v) for k, v in values.items()}
    proof, when = values.get("proof"), values.get("time")
    if not values.get("brought") or not proof or not when:
        return _usage(svc, msg, "claim", "须写明 拓客、证据 和 证据时间")
    proof_at = parse_past_time(when, msg.now.astimezone(svc.tz))
    if proof_at is None:
        return _usage(svc, msg, "claim", f"证据时间“{when[:20]}”看不懂，例如 时间：11-23 09:10")
    async with svc.db.uow() as uow:
        visit = await uow.visits.of_customer(project.id, phone.masked, svc.phone_hash(phone))
        if visit is None:
            return [Send(msg.chat_id, svc.render("not_visited.j2", phone=phone.masked))]
        if not proof_precedes_visit(proof_at, visit.at):
            return _usage(svc, msg, "claim", "证据时间不在到访之前，不能据此改判归属")
        person = await _one_person(uow, values["brought"], values.get("team"))
        if isinstance(person, str):
            return _usage(svc, msg, "claim", person)
        detail = f"改判归{person.name}（{person.team}）；证据：{proof}（{when}）；原归属：{visit.owner_name or '案场'}"
        await uow.visits.set_owner(visit.id, person.id, Rule.LATE_CLAIM.value, msg.now)
        await uow.events.add(project_id=project.id, phone=phone.masked, kind=EventKind.CLAIMED, actor_id=sender.id,
                             at=msg.now, detail=detail[:200])
        changed = await uow.visits.get(visit.id)
        assert changed is not None
        await _plan_follow_ups(uow, changed, svc, f"claim{person.id}")
        await uow.commit()
    return await _announce(svc, msg, project, Announcement(changed, Rule.LATE_CLAIM, detail))


async def handle_revoke(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """A manager revokes ownership for a stated reason and names who follows up (SPEC §5, [003 §4])."""
    parsed = parse_phone_and_labels(args, svc.policy.mask_suffix_digits)
    if isinstance(parsed, Refusal):
        return _usage(svc, msg, "revoke", parsed)
    phone, values = parsed
    values = {k: svc.scrub(v) for k, v in values.items()}
    if not values.get("reason"):
        return _usage(svc, msg, "revoke", "撤销归属必须写明原因")
    async with svc.db.uow() as uow:
        visit = await uow.visits.of_customer(project.id, phone.masked, svc.phone_hash(phone))
        if visit is None:
            return [Send(msg.chat_id, svc.render("not_visited.j2", phone=phone.masked))]
        successor: Staff | None = None
        if values.get("successor"):
            person = await _one_person(uow, values["successor"], values.get("team"))
            if isinstance(person, str):
                return _usage(svc, msg, "revoke", person)
            successor = person
        detail = f"原因：{values['reason']}；原归属：{visit.owner_name or '案场'}；接手：{successor.name if successor else '案场'}"
        await uow.visits.set_owner(visit.id, successor.id if successor else None, Rule.REASSIGNED.value, msg.now)
        await uow.events.add(project_id=project.id, phone=phone.masked, kind=EventKind.REVOKED, actor_id=sender.id,
                             at=msg.now, detail=detail[:200])
        changed = await uow.visits.get(visit.id)
        assert changed is not None
        await _plan_follow_ups(uow, changed, svc, f"revoke{msg.now.timestamp():.0f}")
        former = await private_chat_of(uow, visit.owner_id, msg.channel) if visit.owner_id else None
        await uow.commit()
    actions = await _announce(svc, msg, project, Announcement(changed, Rule.REASSIGNED, detail))
    if former and all(a.chat_id != former for a in actions if isinstance(a, Send)):
        actions.append(Send(former, svc.render("ownership.j2", v=changed, rule=RULE_LABELS[Rule.REASSIGNED], detail=detail)))
    return actions


async def handle_release(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """A manager releases a public customer (公号): reports are accepted again."""
    parsed = parse_phone_and_labels(args, svc.policy.mask_suffix_digits)
    if isinstance(parsed, Refusal):
        return _usage(svc, msg, "release", parsed)
    phone, values = parsed
    async with svc.db.uow() as uow:
        released = await uow.reports.release_public(project.id, phone.masked, msg.now)
        if released:
            reason = svc.scrub(values.get("reason") or "")[:200] or None
            await uow.events.add(project_id=project.id, phone=phone.masked, kind=EventKind.RELEASED,
                                 actor_id=sender.id, at=msg.now, detail=reason)
            await uow.commit()
    return [Send(msg.chat_id, svc.render("released.j2", phone=phone.masked, released=released))]
