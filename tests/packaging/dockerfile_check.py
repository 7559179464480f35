#!/usr/bin/env python3
"""Checks the Dockerfile without a registry or a Docker engine.

It parses the instructions as Docker does (line continuations, comments,
exec and shell forms) and checks:

* every instruction is known, the stages are named and COPY --from names an
  earlier stage; the first stage is debian:12, the last debian:12-slim;
* every RUN parses with the shell Docker runs it with (sh, which is dash on
  Debian) and with bash;
* the build stage installs the package owning each pkg-config module the
  CMake build asks for (and cmocka's when the build keeps the tests);
* the build stage, replayed on this machine from exactly the files its COPY
  lines take from the context (.dockerignore applied) with its own cmake
  flags, builds and installs; every COPY --from=build source exists in that
  installation;
* the runtime stage installs exactly the Debian packages that own the
  libraries the built binary links (readelf NEEDED, located with ldd, owner
  from dpkg -S), libc6 aside: every Debian image has it; every other library
  ldd finds comes with those packages' dependencies; no -dev package or
  build tool;
* the final stage runs as a user it creates, owns its VOLUME folders,
  ENTRYPOINT resolves to the copied binary on PATH, HEALTHCHECK runs its
  healthcheck command and CMD its daemon command, both commands this binary
  has.

Exit 0 when every check holds; otherwise one line per failure on stderr,
each starting "dockerfile: ", and exit 1.
"""
import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER",
}
DEFAULT_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
BUILD_TOOLS = {"build-essential", "gcc", "clang", "cmake", "make", "pkg-config", "pkgconf"}
# The C library is in every Debian image: apt and dpkg themselves need it.
BASE_IMAGE_PACKAGES = {"libc6"}

failures = []


def fail(message):
    failures.append(message)
    print("dockerfile: " + message, file=sys.stderr)


class Instruction:
    def __init__(self, line, keyword, text):
        self.line, self.keyword, self.text = line, keyword, text
        self.flags = {}
        rest = text
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            self.flags[name] = value
            rest = rest.lstrip()
        self.args = rest

    def exec_form(self):
        """The JSON array of an exec-form instruction, or None."""
        if not self.args.startswith("["):
            return None
        try:
            value = json.loads(self.args)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def parse(path):
    """Instructions as Docker reads them: a backslash that ends a line joins
    the next one; comment lines are dropped, also inside a continuation."""
    instructions = []
    current, start = None, 0
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f.read().split("\n"), 1):
            stripped = raw.strip()
            if stripped.startswith("#") or (current is None and not stripped):
                continue
            if current is None:
                current, start = "", number
            if raw.endswith("\\"):
                current += raw[:-1]
                continue
            if raw.rstrip().endswith("\\"):
                fail(f"line {number}: a backslash followed by spaces does not continue the line")
            current += raw
            keyword, _, text = current.strip().partition(" ")
            instructions.append(Instruction(start, keyword.upper(), text.strip()))
            current = None
    if current is not None:
        fail(f"line {start}: the last instruction ends with a continuation")
    return instructions


class Stage:
    def __init__(self, index, image, name, line):
        self.index, self.image, self.name, self.line = index, image, name, line
        self.instructions = []

    def all(self, keyword):
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword):
        found = self.all(keyword)
        return found[-1] if found else None


def stages_of(instructions):
    stages = []
    for ins in instructions:
        if ins.keyword not in INSTRUCTIONS:
            fail(f"line {ins.line}: unknown instruction {ins.keyword}")
            continue
        if ins.keyword == "FROM":
            words = ins.args.split()
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else None
            if len(words) not in (1, 3) or (len(words) == 3 and not name):
                fail(f"line {ins.line}: FROM takes IMAGE [AS NAME], not '{ins.args}'")
            stages.append(Stage(len(stages), words[0] if words else "", name, ins.line))
        elif not stages:
            if ins.keyword != "ARG":
                fail(f"line {ins.line}: {ins.keyword} before the first FROM")
        else:
            stages[-1].instructions.append(ins)
    return stages


def shell_commands(run_text):
    """The simple commands of a shell-form RUN, as token lists."""
    lexer = shlex.shlex(run_text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token in (";", "&&", "||", "|", "&"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def run_texts(stage):
    texts = []
    for ins in stage.all("RUN"):
        form = ins.exec_form()
        texts.append(" ".join(shlex.quote(w) for w in form) if form else ins.args)
    return texts


def apt_packages(stage):
    packages = []
    for text in run_texts(stage):
        for cmd in shell_commands(text):
            words = [w for w in cmd if "=" not in w or w.startswith("-")]
            if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
                after = words[words.index("install") + 1:]
                packages += [w for w in after if not w.startswith("-")]
    return packages


def check_structure(stages):
    if len(stages) < 2:
        fail("a multi-stage build needs a build stage and a runtime stage")
        return
    if stages[0].image != "debian:12":
        fail(f"the build stage starts from {stages[0].image}, not debian:12")
    if stages[-1].image != "debian:12-slim":
        fail(f"the runtime stage starts from {stages[-1].image}, not debian:12-slim")
    names = {}
    for stage in stages:
        if not stage.name:
            fail(f"line {stage.line}: stage {stage.index} has no name (FROM IMAGE AS NAME)")
        elif stage.name in names:
            fail(f"line {stage.line}: stage name {stage.name} is used twice")
        for ins in stage.all("COPY") + stage.all("ADD"):
            ref = ins.flags.get("from")
            if ref is None:
                continue
            earlier = {s.name: s for s in stages[:stage.index] if s.name}
            earlier.update({str(s.index): s for s in stages[:stage.index]})
            if ref not in earlier:
                fail(f"line {ins.line}: COPY --from={ref} names no earlier stage")
        names[stage.name] = stage


def check_shell_syntax(stages):
    for stage in stages:
        shell = ["/bin/sh", "-c"]
        for ins in stage.instructions:
            if ins.keyword == "SHELL":
                shell = ins.exec_form() or shell
            if ins.keyword != "RUN" or ins.exec_form():
                continue
            checkers = {os.path.basename(shell[0]): [shell[0], "-n", "-c", ins.args]}
            checkers["bash"] = ["bash", "-n", "-c", ins.args]
            for name, argv in checkers.items():
                result = subprocess.run(argv, capture_output=True, text=True)
                if result.returncode != 0:
                    fail(f"line {ins.line}: RUN does not parse with {name}: {result.stderr.strip()}")


def path_variants(path):
    """The path as given, resolved, and with /lib and /usr/lib swapped:
    dpkg records a library under the name its package ships (merged /usr)."""
    variants = [path, os.path.realpath(path)]
    for p in list(variants):
        if p.startswith("/usr/lib/"):
            variants.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            variants.append("/usr" + p)
    return variants


def dpkg_owners(paths):
    """path -> the package that installed it (or None), in one dpkg-query."""
    variants = {p: path_variants(p) for p in paths}
    query = sorted({v for vs in variants.values() for v in vs})
    out = subprocess.run(["dpkg-query", "-S"] + query, capture_output=True, text=True).stdout
    owner_of = {}
    for line in out.splitlines():
        packages, sep, file = line.partition(": ")
        if sep and not line.startswith("diversion "):
            owner_of[file.strip()] = packages.split(",")[0].split(":")[0].strip()
    return {p: next((owner_of[v] for v in vs if v in owner_of), None) for p, vs in variants.items()}


def needed_libraries(binary):
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def ldd_paths(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
        else:
            m = re.match(r"\s*(/\S+) \(", line)
            if m:
                paths[os.path.basename(m.group(1))] = m.group(1)
    return paths


def depends_closure(packages):
    """Every package the given ones pull in through Depends and Pre-Depends,
    as this machine's dpkg database records them."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Provides}\t${Pre-Depends}, ${Depends}\n"],
                         capture_output=True, text=True, check=True).stdout
    depends, providers = {}, {}
    for line in out.splitlines():
        name, provides, deps = (line.split("\t") + ["", ""])[:3]
        depends[name] = deps
        for virtual in provides.split(","):
            providers.setdefault(virtual.strip().split(" ")[0], []).append(name)
    seen, todo = set(), list(packages)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        for clause in depends.get(pkg, "").split(","):
            for alternative in clause.split("|"):
                name = alternative.strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
                    todo += providers.get(name, [])
    return seen


def check_runtime_packages(stage, binary):
    listed = apt_packages(stage)
    if not listed:
        fail("the runtime stage installs no packages")
        return
    listed_set = set(listed)
    for pkg in listed:
        if pkg.endswith("-dev") or pkg in BUILD_TOOLS:
            fail(f"the runtime stage installs {pkg}, which only building needs")
    paths = ldd_paths(binary)
    owner_of = dpkg_owners(list(paths.values()))
    owners = {}
    for lib in needed_libraries(binary):
        path = paths.get(lib)
        if not path:
            fail(f"ldd cannot locate {lib}, which the binary needs")
            continue
        owner = owner_of[path]
        if not owner:
            fail(f"no Debian package owns {path} ({lib})")
            continue
        owners.setdefault(owner, []).append(lib)
    for owner, libs in sorted(owners.items()):
        if owner not in listed_set and owner not in BASE_IMAGE_PACKAGES:
            fail(f"the runtime stage lacks {owner}, which provides {', '.join(libs)}")
    for pkg in listed:
        if pkg.startswith("lib") and pkg not in owners:
            fail(f"the runtime stage installs {pkg}, which provides no library the binary links")
    provided = depends_closure(listed_set | BASE_IMAGE_PACKAGES)
    for lib, path in sorted(paths.items()):
        owner = owner_of[path]
        if owner and owner not in provided:
            fail(f"{lib} ({owner}) is loaded by the binary but no runtime package brings it in")


def pkg_config_modules(cmake_file):
    text = open(cmake_file, encoding="utf-8").read()
    modules = []
    for body in re.findall(r"pkg_check_modules\(([^)]*)\)", text):
        words = body.split()[1:]
        modules += [w for w in words if w not in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH",
                                                   "NO_CMAKE_ENVIRONMENT_PATH")]
    return modules


def cmake_configure_flags(stage):
    for text in run_texts(stage):
        for cmd in shell_commands(text):
            if cmd and cmd[0] == "cmake" and "-S" in cmd:
                return [w for w in cmd if w.startswith("-D")]
    return None


def check_build_packages(stage, context):
    listed = set(apt_packages(stage))
    flags = cmake_configure_flags(stage)
    if flags is None:
        fail("the build stage runs no 'cmake -S' configure step")
        flags = []
    modules = pkg_config_modules(os.path.join(context, "CMakeLists.txt"))
    if "-DBUILD_TESTS=OFF" not in flags:
        modules += pkg_config_modules(os.path.join(context, "tests", "CMakeLists.txt"))
    pc_files = {}
    for module in modules:
        result = subprocess.run(["pkg-config", "--path", module], capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"pkg-config does not know module {module} on this machine")
        else:
            pc_files[module] = result.stdout.strip()
    owner_of = dpkg_owners(list(pc_files.values()))
    for module, pc in pc_files.items():
        if owner_of[pc] not in listed:
            fail(f"the build stage lacks {owner_of[pc]}, which provides the pkg-config module {module}")
    for tool in ("cmake", "pkg-config"):
        if tool not in listed:
            fail(f"the build stage does not install {tool}")
    if not listed & {"build-essential", "gcc", "clang"}:
        fail("the build stage installs no C compiler")


def load_dockerignore(path):
    if not os.path.exists(path):
        return []
    rules = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, os.path.normpath(line.lstrip("!").lstrip("/"))))
    return rules


def ignored(rel, rules):
    result = False
    parts = rel.split("/")
    for negated, pattern in rules:
        for n in range(1, len(parts) + 1):  # a pattern that matches a folder takes what is in it
            if fnmatch.fnmatchcase("/".join(parts[:n]), pattern):
                result = not negated
                break
    return result


def stage_context(stage, context, dockerignore, root):
    """Copies what the stage's COPY lines take from the build context into
    root, as the image would hold it; returns the stage's last WORKDIR."""
    rules = load_dockerignore(dockerignore)
    workdir = "/"
    for ins in stage.instructions:
        if ins.keyword == "WORKDIR":
            workdir = os.path.join(workdir, ins.args)
        if ins.keyword not in ("COPY", "ADD") or "from" in ins.flags:
            continue
        words = ins.exec_form() or ins.args.split()
        sources, dest = words[:-1], words[-1]
        dest_abs = os.path.normpath(os.path.join(workdir, dest))
        for source in sources:
            matches = glob.glob(os.path.join(context, source))
            if not matches:
                fail(f"line {ins.line}: COPY source {source} is not in the build context")
            for match in matches:
                rel = os.path.relpath(match, context)
                if ignored(rel, rules):
                    fail(f"line {ins.line}: COPY source {source} is excluded by .dockerignore")
                    continue
                # Docker's rules: a folder's content goes into DEST; a file goes
                # into DEST if DEST ends with / (or several sources), else is DEST.
                if os.path.isdir(match) or not (dest.endswith("/") or len(sources) > 1):
                    target = root + dest_abs
                else:
                    target = root + os.path.join(dest_abs, os.path.basename(match))
                if os.path.isdir(match):
                    for dirpath, dirnames, filenames in os.walk(match):
                        for f in filenames:
                            frel = os.path.relpath(os.path.join(dirpath, f), context)
                            if ignored(frel, rules):
                                continue
                            out = os.path.join(target, os.path.relpath(os.path.join(dirpath, f), match))
                            os.makedirs(os.path.dirname(out), exist_ok=True)
                            shutil.copy2(os.path.join(dirpath, f), out)
                else:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy2(match, target)
    return workdir


def replay_build(stage, context, dockerignore, work):
    """Configures, builds and installs from the staged context with the
    stage's own flags; returns the install root (DESTDIR), or None."""
    root = os.path.join(work, "root")
    shutil.rmtree(root, ignore_errors=True)  # the build folder stays: a rerun builds only what changed
    workdir = stage_context(stage, context, dockerignore, root)
    flags = cmake_configure_flags(stage) or []
    destdir = None
    strip = False
    for text in run_texts(stage):
        for cmd in shell_commands(text):
            if "--install" in cmd and "cmake" in cmd:
                strip = "--strip" in cmd
                for w in cmd:
                    if w.startswith("DESTDIR="):
                        destdir = w.split("=", 1)[1]
    if not destdir:
        fail("the build stage runs no 'DESTDIR=DIR cmake --install' step")
        return None, None
    build = os.path.join(work, "build")
    install_root = root + destdir
    steps = [
        ["cmake", "-S", root + workdir, "-B", build] + flags,
        ["cmake", "--build", build, "-j2", "--target", "zakpos-backup"],
        ["cmake", "--install", build] + (["--strip"] if strip else []),
    ]
    env = dict(os.environ, DESTDIR=install_root)
    for argv in steps:
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            fail(f"the build stage fails when replayed ({' '.join(argv[:3])}):\n{tail}")
            return None, None
    return install_root, destdir


def check_copies_from_build(runtime, build_stage, install_root, destdir):
    for ins in runtime.all("COPY"):
        if ins.flags.get("from") not in (build_stage.name, str(build_stage.index)):
            continue
        words = ins.exec_form() or ins.args.split()
        for source in words[:-1]:
            if not source.startswith(destdir + "/"):
                fail(f"line {ins.line}: COPY --from={ins.flags['from']} takes {source}, outside the installation {destdir}")
            elif not os.path.exists(install_root + source[len(destdir):]):
                fail(f"line {ins.line}: {source} is not in the build stage's installation")


def copied_files(stage):
    """Destination path -> source, for the stage's COPY lines."""
    files = {}
    for ins in stage.all("COPY"):
        words = ins.exec_form() or ins.args.split()
        for source in words[:-1]:
            dest = words[-1]
            files[os.path.join(dest, os.path.basename(source)) if dest.endswith("/") else dest] = source
    return files


def created_users(stage):
    users = set()
    for text in run_texts(stage):
        for cmd in shell_commands(text):
            if cmd and cmd[0] in ("useradd", "adduser"):
                users.add(cmd[-1])
    return users


def owned_paths(stage, user):
    """Folders a RUN of the stage creates or hands over to user."""
    paths = set()
    for text in run_texts(stage):
        for cmd in shell_commands(text):
            if cmd and cmd[0] == "install" and "-d" in cmd and "-o" in cmd and cmd[cmd.index("-o") + 1] == user:
                skip = {cmd.index("-o") + 1}
                for flag in ("-g", "-m"):
                    if flag in cmd:
                        skip.add(cmd.index(flag) + 1)
                paths |= {w for i, w in enumerate(cmd[1:], 1) if i not in skip and not w.startswith("-")}
            if cmd and cmd[0] == "chown" and len(cmd) >= 3 and cmd[-2].split(":")[0] == user:
                paths.add(cmd[-1])
    return paths


def check_runtime_stage(runtime, binary):
    user_ins = runtime.last("USER")
    user = user_ins.args.split(":")[0] if user_ins else None
    if not user or user in ("root", "0"):
        fail("the runtime stage does not switch to a non-root USER")
    elif user not in created_users(runtime):
        fail(f"USER {user} is not created by a useradd/adduser in the runtime stage")
    else:
        owned = owned_paths(runtime, user)
        for vol in runtime.all("VOLUME"):
            for path in vol.exec_form() or vol.args.split():
                if path not in owned:
                    fail(f"line {vol.line}: VOLUME {path} is not created for {user}, who could not write it")

    entry = runtime.last("ENTRYPOINT")
    entry_argv = entry.exec_form() if entry else None
    if not entry_argv:
        fail("the runtime stage has no exec-form ENTRYPOINT")
        return
    files = copied_files(runtime)
    program = entry_argv[0]
    candidates = [program] if program.startswith("/") else [os.path.join(d, program) for d in DEFAULT_PATH]
    if not any(c in files and files[c].endswith("/bin/zakpos-backup") for c in candidates):
        fail(f"ENTRYPOINT {program} is not the zakpos-backup binary copied from the build stage onto PATH")

    health = runtime.last("HEALTHCHECK")
    if not health:
        fail("the runtime stage has no HEALTHCHECK")
    else:
        m = re.search(r"\bCMD\s+(.*)$", health.args)
        argv = None
        if m:
            try:
                argv = json.loads(m.group(1))
            except ValueError:
                argv = m.group(1).split()
        if not argv or argv[0] != program or argv[1:2] != ["healthcheck"]:
            fail(f"HEALTHCHECK does not run '{program} healthcheck': {health.args}")

    cmd = runtime.last("CMD")
    cmd_argv = cmd.exec_form() if cmd else None
    if cmd_argv != ["daemon"]:
        fail(f"CMD is {cmd_argv}, not [\"daemon\"]")

    for words in (["healthcheck"], cmd_argv or []):
        if words and binary:
            result = subprocess.run([binary] + words + ["--help"], capture_output=True, text=True)
            if result.returncode != 0:
                fail(f"the built binary has no '{' '.join(words)}' command: {result.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dockerfile", required=True)
    ap.add_argument("--context", required=True, help="the build context (the source tree)")
    ap.add_argument("--dockerignore", help="default: CONTEXT/.dockerignore")
    ap.add_argument("--work", required=True, help="a folder for the replayed build (reused by later runs)")
    args = ap.parse_args()

    stages = stages_of(parse(args.dockerfile))
    check_structure(stages)
    check_shell_syntax(stages)
    if len(stages) < 2:
        return 1
    build, runtime = stages[0], stages[-1]
    check_build_packages(build, args.context)
    binary = None
    dockerignore = args.dockerignore or os.path.join(args.context, ".dockerignore")
    install_root, destdir = replay_build(build, args.context, dockerignore, args.work)
    if install_root:
        check_copies_from_build(runtime, build, install_root, destdir)
        binary = install_root + "/usr/bin/zakpos-backup"
        if not os.access(binary, os.X_OK):
            fail("the replayed installation has no usr/bin/zakpos-backup")
            binary = None
    if binary:
        check_runtime_packages(runtime, binary)
    check_runtime_stage(runtime, binary)
    if failures:
        return 1
    print(f"dockerfile: {len(stages)} stages checked; runtime packages match the libraries of {binary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
