"""`mexa demo | serve | ask | eval | build-config | check | experts | config-schema`.

Commands that need Ray Serve import `mexa_ray.serving` lazily, so `mexa experts` stays fast and the
library itself never imports Serve.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from mexa_ray.cards import backend_settings, expert_cards
from mexa_ray.cli.overrides import add_config_argument, add_override_arguments, overrides_of
from mexa_ray.config import load_config
from mexa_ray.errors import MexaError
from mexa_ray.media import formats as media_formats
from mexa_ray.models import memory_plan
from mexa_ray.models.memory_plan import GPU_MEMORY_LABEL, parse_size
from mexa_ray.serving.http.schemas import check_request, parse_request
from mexa_ray.types import MEDIA_TYPES

#: what `mexa ask --<type> FILE` calls a media type in its help, where its name is not a noun
MEDIA_NOUNS = {"points": "point cloud", "volume": "CT or MRI volume"}


def _dump(obj: dict, pretty: bool) -> str:
    return json.dumps(obj, indent=2 if pretty else None, ensure_ascii=False)


@contextlib.contextmanager
def json_stdout() -> Iterator[TextIO]:
    """Yield a writer to the real stdout and send everything else printed meanwhile (Ray's own
    messages, which it writes from several threads and processes) to stderr, so stdout stays
    pure JSON for pipes."""
    sys.stdout.flush()
    saved = os.dup(1)
    out = os.fdopen(os.dup(saved), "w")
    os.dup2(2, 1)
    try:
        yield out
    finally:
        out.flush()
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        out.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from mexa_ray.cli.demo import demo_dir, examples
    from mexa_ray.serving import runtime

    started = time.time()
    requests = examples()
    config = load_config(args.config, overrides_of(args)).with_media_roots([demo_dir()])
    with json_stdout() as out:
        handle = runtime.start(config, quiet=not args.verbose)
        try:
            for i, request in enumerate(requests, 1):
                answer = runtime.ask(handle, request)
                print(
                    _dump(
                        {
                            "example": i,
                            "question": request["question"],
                            "options": request.get("options", []),
                            "media": [m["type"] for m in request["media"]],
                            **answer,
                        },
                        args.pretty,
                    ),
                    file=out,
                    flush=True,
                )
        finally:
            runtime.stop()
    print(
        f"demo: {len(requests)} questions answered in {time.time() - started:.1f}s", file=sys.stderr
    )
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def proxy_location_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--proxy-location",
        choices=["EveryNode", "HeadOnly"],
        default="EveryNode",
        help="where Serve runs HTTP proxies: on every node with a replica, behind the cluster's "
        "load balancer (default), or on the head alone (docs/cluster.md); a Serve already "
        "running on the cluster keeps its own",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from mexa_ray.serving import runtime

    config = load_config(args.config, overrides_of(args))
    runtime.connect(quiet=not args.verbose)
    # after ray.init, which installs its own SIGTERM handler: SIGTERM shuts down like Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        runtime.start(
            config,
            http=True,
            host=args.host,
            port=args.port,
            quiet=not args.verbose,
            proxy_location=args.proxy_location,
        )
        url = f"http://{args.host}:{args.port}"
        print(
            f"mexa-ray serving {config.name} on {url} (POST /v1/reason, GET /v1/experts, "
            "GET /healthz, GET /readyz); Ctrl-C stops",
            file=sys.stderr,
        )
        runtime.wait_ready(url)
        print(
            f"mexa-ray: ready ({url}/readyz answers 200: every deployment has a running replica)",
            file=sys.stderr,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("mexa-ray: shutting down", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM stops at once
        runtime.stop()
    return 0


def _ask_payload(args: argparse.Namespace, inline: bool) -> dict:
    media = []
    for kind in MEDIA_TYPES:
        for path in getattr(args, kind) or []:
            p = Path(path)
            if not p.is_file():
                raise MexaError(f"no such file: {path}", field=kind)
            if inline:  # a remote server cannot see our files: send the bytes
                media.append(
                    {
                        "type": kind,
                        "data": base64.b64encode(p.read_bytes()).decode(),
                        "format": p.suffix.lstrip(".") or None,
                        "name": p.name,
                    }
                )
            else:
                media.append({"type": kind, "path": str(p.resolve())})
    payload: dict = {"question": args.question, "options": args.option or [], "media": media}
    if args.task:
        payload["task"] = args.task
    if args.expert:
        payload["experts"] = args.expert
    if args.deadline:
        payload["deadline_s"] = args.deadline
    return payload


def cmd_ask(args: argparse.Namespace) -> int:
    if args.url:
        import requests

        payload = _ask_payload(args, inline=True)
        resp = requests.post(args.url.rstrip("/") + "/v1/reason", json=payload, timeout=600)
        if resp.status_code >= 400:
            print(
                _dump(
                    resp.json()
                    if resp.headers.get("content-type", "").startswith("application/json")
                    else {"error": resp.text},
                    True,
                ),
                file=sys.stderr,
            )
            return 1
        _print_answer(resp.json(), args.pretty, sys.stdout)
        return 0
    from mexa_ray.serving import runtime

    payload = _ask_payload(args, inline=False)
    roots = {str(Path(m["path"]).parent) for m in payload["media"]}
    config = load_config(args.config, overrides_of(args)).with_media_roots(sorted(roots))
    check_request(parse_request(payload), config)  # a mistyped expert fails before Ray starts
    with json_stdout() as out:
        handle = runtime.start(config, quiet=not args.verbose)
        try:
            _print_answer(runtime.ask(handle, payload), args.pretty, out)
        finally:
            runtime.stop()
    return 0


def _print_answer(answer: dict, pretty: bool, out: TextIO) -> None:
    """The JSON; with --pretty, a summary for a person first, then the JSON indented."""
    if pretty:
        from mexa_ray.cli.summary import summarise

        print(summarise(answer) + "\n", file=out)
    print(_dump(answer, pretty), file=out)


def cmd_eval(args: argparse.Namespace) -> int:
    from mexa_ray.bulk.job import run

    with json_stdout() as out:
        print(run(args), file=out, flush=True)
    return 0


def cmd_build_config(args: argparse.Namespace) -> int:
    import yaml

    from mexa_ray.serving.serve_config import serve_config

    overrides = overrides_of(args)
    config = load_config(args.config, overrides)
    data = serve_config(
        config,
        args.config or "default",
        host=args.host,
        port=args.port,
        overrides=overrides,
        proxy_location=args.proxy_location,
    )
    print(
        f"# Serve config for the mexa-ray app {config.name!r}, made by `mexa build-config`.\n"
        "# Deploy with `serve deploy serve_config.yaml` on a cluster where mexa-ray is "
        "installed;\n# args.config names the app config there (a packaged name or a path)."
    )
    print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


def _print_backends(pretty_json: bool) -> None:
    """Each registered backend and the settings an expert's `settings:` may give it."""
    backends = backend_settings()
    if pretty_json:
        print(_dump({"backends": backends}, True))
        return
    for b in backends:
        print(f"{b['name']}  ({b['class']})")
        if not b["settings"]:
            print("    takes no settings")
        for f in b["settings"]:
            default = "required" if f["required"] else f"= {json.dumps(f['default'])}"
            print(f"    {f['name']}: {f['type']} {default}")
            if f["description"]:
                print(f"        {f['description']}")


def cmd_experts(args: argparse.Namespace) -> int:
    if args.backends:  # the code's backends, not a config's experts
        _print_backends(args.json)
        return 0
    if args.router_view:  # what the routers read about the experts, word for word
        from mexa_ray.reasoning.routing import router_view

        print(router_view(load_config(args.config, overrides_of(args))))
        return 0
    if args.url:  # a running app: its cards with where each replica runs
        import requests

        resp = requests.get(
            args.url.rstrip("/") + "/v1/experts",
            timeout=30,
            headers={"Authorization": f"Bearer {os.environ['MEXA_API_KEY']}"}
            if os.environ.get("MEXA_API_KEY")
            else {},
        )
        if resp.status_code >= 400:
            raise MexaError(f"{args.url}: HTTP {resp.status_code}: {resp.text[:300]}", field="url")
        cards = resp.json()["experts"]
    else:
        cards = expert_cards(load_config(args.config, overrides_of(args)))
    if args.json:
        print(_dump({"experts": cards}, True))
        return 0
    for c in cards:
        skills = ", ".join(f"{s['id']} {s['name']}" for s in c["skills"])
        res = c["resources"]
        print(
            f"{c['name']}  [{', '.join(c['modalities'])}]  backend={c['backend']}"
            + (f" model={c['model']}" if c["model"] else "")
        )
        print(f"    skills: {skills}")
        print(
            f"    resources: num_cpus={res['num_cpus']} num_gpus={res['num_gpus']} "
            f"replicas={res['replicas']} timeout={c['timeout_s']}s"
        )
        for r in c.get("replicas", []):
            where = ", ".join([r["node_ip"], *r["node_resources"]])
            print(
                f"    replica {r['replica']}: {r['state']} on node {r['node_id'][:12]} "
                f"({where}), GPUs {','.join(r['gpu_ids']) or 'none'}"
            )
        print(f"    {c['description']}")
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    from mexa_ray.cli import reference as config_reference

    if args.format == "json":
        sys.stdout.write(config_reference.json_schema())
    else:
        sys.stdout.write(config_reference.markdown())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from mexa_ray.cli import check as preflight

    config = load_config(args.config, overrides_of(args))
    if args.cluster:
        nodes_of = lambda: preflight.cluster_nodes(args.cluster)  # noqa: E731
        nodes_of()  # a bad file is an error before any line is printed
    elif args.gpus is not None:
        nodes_of = lambda: preflight.single_node(args.gpus)  # noqa: E731
    else:
        nodes_of = None
    gpu_memory = (
        parse_size(args.gpu_memory, "--gpu-memory") if args.gpu_memory is not None else None
    )
    checks, plan = preflight.run_checks(config, nodes_of, gpu_memory)
    if args.json:
        print(
            json.dumps(
                {
                    "checks": [
                        {"status": c.status, "what": c.what, "detail": c.detail} for c in checks
                    ],
                    "memory_plan": plan.as_json(),
                },
                indent=1,
            )
        )
    else:
        for check in checks:
            print(check.line(), flush=True)
        if plan.rows:
            print(memory_plan.table(plan.rows, plan.cards))
    failed = sum(c.status == "FAIL" for c in checks)
    unchecked = sum(c.status == "unchecked" for c in checks)
    print(
        f"mexa check: {len(checks)} checks, {failed} failed, {unchecked} unchecked", file=sys.stderr
    )
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mexa", description="MEXA multimodal reasoning on Ray")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, config: bool = True) -> None:
        if config:
            add_config_argument(p)
            add_override_arguments(p)
        p.add_argument("--verbose", action="store_true", help="show Ray and Serve logs")

    p = sub.add_parser("demo", help="answer the bundled example questions on a local Ray")
    common(p)
    p.add_argument("--pretty", action="store_true", help="indent the JSON answers")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="deploy the app and serve HTTP until interrupted")
    common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    proxy_location_argument(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ask", help="ask one question, of a server (--url) or in-process")
    common(p)
    p.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000")
    for kind in MEDIA_TYPES:
        noun = MEDIA_NOUNS.get(kind, kind)
        p.add_argument(
            f"--{kind}",
            action="append",
            metavar="FILE",
            help=f"{'an' if noun[0] in 'aeiou' else 'a'} {noun} file "
            f"({', '.join(media_formats(kind))}; repeat)",
        )
    p.add_argument("--option", action="append", metavar="TEXT", help="an answer option (repeat)")
    p.add_argument("--task", help="task type, e.g. 'audio question answering'")
    p.add_argument("--expert", action="append", metavar="NAME", help="use this expert (repeat)")
    p.add_argument("--deadline", type=float, metavar="SECONDS", help="whole-request budget")
    p.add_argument(
        "--pretty",
        action="store_true",
        help="a readable summary (answer, experts, reports, times), then the JSON",
    )
    p.add_argument("question", help="the question, in quotes")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="evaluate a benchmark in bulk on Ray Data (resumable)")
    from mexa_ray.bulk.job import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("build-config", help="print a Serve config file (serve deploy) for a config")
    add_config_argument(p, where=" (a path on the cluster)")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    proxy_location_argument(p)
    add_override_arguments(p)
    p.set_defaults(func=cmd_build_config)

    p = sub.add_parser(
        "check",
        help="preflight a config before deploying: packages, model "
        "classes, GPU budget, media roots (no Ray, no weights downloaded)",
    )
    add_config_argument(p)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--gpus", type=int, metavar="N", help="check the GPU shares against one machine with N GPUs"
    )
    budget.add_argument(
        "--cluster",
        metavar="FILE",
        help="check them against a Ray cluster "
        "launcher file (cluster.yaml): each node type's resources",
    )
    p.add_argument(
        "--gpu-memory",
        metavar="SIZE",
        help="each GPU's memory (e.g. 80GiB): plan every model's bytes against its share "
        f"(a cluster file's node types may give theirs as the label {GPU_MEMORY_LABEL})",
    )
    p.add_argument(
        "--json", action="store_true", help="print the checks and the memory plan as JSON"
    )
    add_override_arguments(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "experts",
        help="list the expert cards of a config, or of a running app "
        "with where each replica runs (--url)",
    )
    add_config_argument(p)
    p.add_argument(
        "--url",
        help="a running server: its cards, replicas, nodes and GPU ids (a key from $MEXA_API_KEY)",
    )
    add_override_arguments(p)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--router-view",
        action="store_true",
        help="print exactly what each router of the config reads about the experts",
    )
    p.add_argument(
        "--backends",
        action="store_true",
        help="list each registered backend's settings (type, default, meaning): what "
        "an expert's `settings:` may set",
    )
    p.set_defaults(func=cmd_experts)

    p = sub.add_parser(
        "config-schema",
        help="print the reference of every app config field "
        "(Markdown, as in docs/config-reference.md), or its JSON Schema",
    )
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.set_defaults(func=cmd_config_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("ask", "experts") and args.url and args.config:
        print("error: give --url or --config, not both", file=sys.stderr)
        return 2
    if args.command == "experts" and args.url and args.router_view:
        print("error: --router-view reads a config (--config), not a running app", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except MexaError as exc:
        where = f" ({exc.field})" if exc.field else ""
        print(f"error{where}: {exc.message}", file=sys.stderr)
        return 2
