#!/usr/bin/python3
"""Prints the company's alignment tree of a cycle, then follows WatchGoals.

    PYTHONPATH=clients/python/gen:clients/python \\
      /usr/bin/python3 clients/python/examples/tree_and_watch.py \\
      --goals 127.0.0.1:50052 --token_file token.txt --cycle cycles/XYZ

The follower resumes where it left off when the goals service restarts;
--resume_token starts after a change seen earlier, --max_changes stops after
that many changes.
"""

import argparse
import sys

from sightline import auth, watch
from sightline.goals.v1 import goal_service_pb2 as gpb
from sightline.goals.v1 import goal_service_pb2_grpc as ggrpc


def print_tree(stub: ggrpc.GoalServiceStub, cycle: str) -> None:
    req = gpb.GetAlignmentTreeRequest(company=True, cycle=cycle)
    for chunk in stub.GetAlignmentTree(req, timeout=30):
        for n in chunk.nodes:
            label = "(restricted)" if n.restricted else (
                f"{n.title}  {n.progress:.0%} {gpb.Health.Name(n.health)}")
            print(f"{'  ' * n.depth}{n.name}  {label}", flush=True)


def describe(change: gpb.WatchGoalsResponse) -> str:
    kind = change.WhichOneof("resource")
    res = getattr(change, kind) if kind else None
    what = gpb.WatchGoalsResponse.ChangeType.Name(change.change_type)
    title = getattr(res, "title", "") or getattr(res, "display_name", "")
    return f"{what} {kind} {getattr(res, 'name', '')} {title}".rstrip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goals", required=True, help="host:port of the goals service")
    tok = ap.add_mutually_exclusive_group(required=True)
    tok.add_argument("--token", help="bearer token")
    tok.add_argument("--token_file", help="file holding the bearer token")
    ap.add_argument("--cycle", required=True, help="cycles/{cycle}")
    ap.add_argument("--resume_token", default="")
    ap.add_argument("--max_changes", type=int, default=0, help="0: follow forever")
    args = ap.parse_args()

    with auth.channel(args.goals, token=args.token, token_file=args.token_file) as ch:
        stub = ggrpc.GoalServiceStub(ch)
        print(f"alignment tree of {args.cycle}:")
        print_tree(stub, args.cycle)
        print("changes:", flush=True)
        follower = watch.Follower(
            stub.WatchGoals, gpb.WatchGoalsRequest, args.resume_token,
            on_reconnect=lambda err, delay: print(
                f"  (reconnecting in {delay:.1f}s: "
                f"{err.code().name if err else 'stream ended'})",
                file=sys.stderr, flush=True))
        seen = 0
        try:
            for change in follower:
                print(" ", describe(change), flush=True)
                seen += 1
                if args.max_changes and seen >= args.max_changes:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            follower.stop()
        print(f"resume with --resume_token={follower.resume_token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
