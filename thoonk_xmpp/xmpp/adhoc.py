"""XEP-0050 ad-hoc commands: one declaration per command, sessions, stages and forms.

A command is declared once, by decorating the function that does it::

    @command(
        "urn:example:0#purge",                 # its disco node
        "Purge a node",                        # the label clients show
        may_run=service_admin,                 # async (ctx) -> bool: who sees and runs it
        fields=(CommandField("node", FieldType.TEXT_SINGLE, "Node"),),
    )
    async def purge(ctx: Context, answers: Answers) -> Outcome:
        await ctx.service.purge_node(ctx.actor, answers["node"][0])
        return Outcome(f"purged {answers['node'][0]}")

The module holding it must be imported by :mod:`.handlers` (as :mod:`.admin_commands`
is).  ``fields`` is the one form of a single-stage command; ``stages`` (a tuple of
:class:`Stage`) makes a multi-stage one with next/prev.  Each submitted field is checked
against its declaration (required, list options, ``check``) before ``run`` is called:
a bad form is ``bad-request`` + ``bad-payload`` naming the field, and changes nothing.
An error ``run`` raises (a service error) is answered as such and leaves the session
where it was, so the requester may correct the form and submit again.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from thoonk_xmpp.service.command_sessions import CommandSession, CommandSessions, new_sessionid

from . import forms, ns
from .errors import (
    BadAction,
    BadPayload,
    BadSessionId,
    CommandForbidden,
    SessionExpired,
    UnknownCommand,
)
from .forms import FieldType, FormType
from .requests import CommandAction, Execute

if TYPE_CHECKING:
    from .handlers import Context

#: What a command's ``run`` gets: every submitted field (var → values), all stages.
Answers = Mapping[str, list[str]]
#: Options of a list field: fixed, or found for the asker when the form is shown.
Options = Sequence[str] | Callable[["Context"], Awaitable[Sequence[str]]]


@dataclass(frozen=True, slots=True)
class CommandField:
    """One field of a command's form."""

    var: str
    kind: FieldType
    label: str
    required: bool = True
    options: Options = ()
    #: Turns a submitted value into the one ``run`` gets; a ValueError is bad-payload.
    check: Callable[[str], str] | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    """One form of a command: its fields and the words above them."""

    fields: tuple[CommandField, ...]
    title: str = ""
    instructions: str = ""


@dataclass(frozen=True, slots=True)
class ResultField:
    """One field of the result form a completed command returns."""

    var: str
    label: str
    values: Sequence[str]
    kind: FieldType = FieldType.TEXT_SINGLE


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a completed command says: a note, and a result form when it has fields."""

    note: str
    fields: tuple[ResultField, ...] = ()
    form_type: str | None = None


Run = Callable[["Context", Answers], Awaitable[Outcome]]
MayRun = Callable[["Context"], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Command:
    """A declared command (see the module docstring)."""

    node: str
    label: str
    may_run: MayRun
    run: Run
    stages: tuple[Stage, ...] = ()


#: Command node → its declaration, in declaration order; filled by :func:`command`.
COMMANDS: Final[dict[str, Command]] = {}


def command(
    node: str,
    label: str,
    *,
    may_run: MayRun,
    fields: tuple[CommandField, ...] = (),
    stages: tuple[Stage, ...] = (),
    instructions: str = "",
) -> Callable[[Run], Run]:
    """Declare the decorated function as the command at ``node``."""
    if fields and stages:
        raise ValueError("give a command fields (one form) or stages, not both")
    forms_shown = stages or ((Stage(fields, label, instructions),) if fields else ())

    def declare(run: Run) -> Run:
        if node in COMMANDS:
            raise ValueError(f"command {node!r} is declared twice")
        COMMANDS[node] = Command(node, label, may_run, run, forms_shown)
        return run

    return declare


# --- discovery (§2) ---------------------------------------------------------------------


async def visible(ctx: Context) -> list[Command]:
    """The commands ``ctx``'s asker may run, in declaration order."""
    return [cmd for cmd in COMMANDS.values() if await cmd.may_run(ctx)]


async def command_items(ctx: Context) -> ET.Element:
    """disco#items on the commands node: one item per command the asker may run."""
    query = ET.Element(ns.tag(ns.DISCO_ITEMS, "query"), {"node": ns.COMMANDS})
    for cmd in await visible(ctx):
        attrs = {"jid": ctx.service_jid, "node": cmd.node, "name": cmd.label}
        ET.SubElement(query, ns.tag(ns.DISCO_ITEMS, "item"), attrs)
    return query


async def command_info(ctx: Context, node: str) -> ET.Element | None:
    """disco#info on the commands node or on a command the asker may run (else None)."""
    if node == ns.COMMANDS:
        identity = {"category": "automation", "type": "command-list"}
        features: tuple[str, ...] = (ns.DISCO_ITEMS,)
    else:
        cmd = COMMANDS.get(node)
        if cmd is None or not await cmd.may_run(ctx):
            return None
        identity = {"category": "automation", "type": "command-node", "name": cmd.label}
        features = (ns.COMMANDS, ns.DATA)
    query = ET.Element(ns.tag(ns.DISCO_INFO, "query"), {"node": node})
    ET.SubElement(query, ns.tag(ns.DISCO_INFO, "identity"), identity)
    for var in features:
        ET.SubElement(query, ns.tag(ns.DISCO_INFO, "feature"), {"var": var})
    return query


# --- execution (§3, §4) -----------------------------------------------------------------


async def execute(ctx: Context, request: Execute) -> ET.Element:
    """Run or move on a command session; the ``<command/>`` answer."""
    cmd = COMMANDS.get(request.node)
    if cmd is None:
        raise UnknownCommand(request.node)
    if not await cmd.may_run(ctx):
        raise CommandForbidden(request.node)
    sessions = CommandSessions(ctx.service.store.redis)
    if request.sessionid is None:
        return await _start(ctx, cmd, sessions, request)
    session = await sessions.load(request.sessionid)
    if session is None:
        raise SessionExpired(request.sessionid)
    if session.command != cmd.node or session.requester != ctx.sender:
        raise BadSessionId(request.sessionid)
    if request.action == CommandAction.CANCEL:
        await sessions.end(session.sessionid)
        return _answer(cmd, session.sessionid, "canceled")
    action = _resolved(cmd, session.stage, request.action)
    if action == CommandAction.PREV:
        session = session.at(session.stage - 1, session.answers)
        await sessions.save(session)
        return await _stage_form(ctx, cmd, session)
    answers = {**session.answers, **await _read(ctx, cmd.stages[session.stage], request.form)}
    if action == CommandAction.NEXT:
        session = session.at(session.stage + 1, answers)
        await sessions.save(session)
        return await _stage_form(ctx, cmd, session)
    outcome = await cmd.run(ctx, answers)  # an error leaves the session as it was
    await sessions.end(session.sessionid)
    return _completed(cmd, session.sessionid, outcome)


async def _start(
    ctx: Context, cmd: Command, sessions: CommandSessions, request: Execute
) -> ET.Element:
    if request.action != CommandAction.EXECUTE:
        raise BadAction(request.action.value, "execute, to start the command")
    if not cmd.stages:
        return _completed(cmd, new_sessionid(), await cmd.run(ctx, {}))
    session = CommandSession(new_sessionid(), cmd.node, ctx.sender)
    await sessions.save(session)
    return await _stage_form(ctx, cmd, session)


def _allowed(cmd: Command, stage: int) -> list[CommandAction]:
    last = stage == len(cmd.stages) - 1
    forward = CommandAction.COMPLETE if last else CommandAction.NEXT
    return [forward, *([CommandAction.PREV] if stage > 0 else [])]


def _resolved(cmd: Command, stage: int, action: CommandAction) -> CommandAction:
    """The action asked for at ``stage`` (``execute`` is the stage's default)."""
    allowed = _allowed(cmd, stage)
    if action == CommandAction.EXECUTE:
        return allowed[0]
    if action not in allowed:
        raise BadAction(action.value, ", ".join(a.value for a in [*allowed, CommandAction.CANCEL]))
    return action


async def _options(ctx: Context, field: CommandField) -> Sequence[str]:
    if callable(field.options):
        return await field.options(ctx)
    return field.options


_MULTI: Final = (FieldType.TEXT_MULTI, FieldType.JID_MULTI)


async def _read(ctx: Context, stage: Stage, form: Answers | None) -> dict[str, list[str]]:
    """The stage's fields from the submitted form, each checked against its declaration."""
    if form is None:
        raise BadPayload("form", "a submitted data form is required")
    answers: dict[str, list[str]] = {}
    for field in stage.fields:
        values = [v for v in form.get(field.var, []) if v != ""]
        if not values:
            if field.required:
                raise BadPayload(field.var, "is required")
            continue
        if field.kind not in _MULTI and len(values) > 1:
            raise BadPayload(field.var, "takes a single value")
        if field.kind == FieldType.LIST_SINGLE:
            options = await _options(ctx, field)
            if values[0] not in options:
                raise BadPayload(field.var, f"{values[0]!r} is not one of {', '.join(options)}")
        if field.check is not None:
            try:
                values = [field.check(value) for value in values]
            except ValueError as exc:
                raise BadPayload(field.var, str(exc)) from None
        answers[field.var] = values
    return answers


def _answer(cmd: Command, sessionid: str, status: str) -> ET.Element:
    attrs = {"node": cmd.node, "sessionid": sessionid, "status": status}
    return ET.Element(ns.tag(ns.COMMANDS, "command"), attrs)


async def _stage_form(ctx: Context, cmd: Command, session: CommandSession) -> ET.Element:
    """The ``executing`` answer showing the session's stage, with what was answered."""
    stage = cmd.stages[session.stage]
    element = _answer(cmd, session.sessionid, "executing")
    allowed = _allowed(cmd, session.stage)
    actions = ET.SubElement(element, ns.tag(ns.COMMANDS, "actions"), {"execute": allowed[0].value})
    for action in allowed:
        ET.SubElement(actions, ns.tag(ns.COMMANDS, action.value))
    x = ET.SubElement(element, ns.tag(ns.DATA, "x"), {"type": FormType.FORM.value})
    if stage.title:
        ET.SubElement(x, ns.tag(ns.DATA, "title")).text = stage.title
    if stage.instructions:
        ET.SubElement(x, ns.tag(ns.DATA, "instructions")).text = stage.instructions
    for field in stage.fields:
        shown = forms.add_field(
            x,
            field.var,
            field.kind,
            session.answers.get(field.var, []),
            label=field.label,
            options=await _options(ctx, field),
        )
        if field.required:  # XEP-0004 §3.2: before the values and options
            shown.insert(0, ET.Element(ns.tag(ns.DATA, "required")))
    return element


def _completed(cmd: Command, sessionid: str, outcome: Outcome) -> ET.Element:
    element = _answer(cmd, sessionid, "completed")
    ET.SubElement(element, ns.tag(ns.COMMANDS, "note"), {"type": "info"}).text = outcome.note
    if outcome.fields:
        if outcome.form_type is not None:
            x = forms.form_element(FormType.RESULT, outcome.form_type)
        else:
            x = ET.Element(ns.tag(ns.DATA, "x"), {"type": FormType.RESULT.value})
        for field in outcome.fields:
            forms.add_field(x, field.var, field.kind, field.values, label=field.label)
        element.append(x)
    return element
