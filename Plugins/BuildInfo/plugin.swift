import Foundation
import PackagePlugin

/// Writes `BuildCommit.swift` into the target it is applied to: the git commit the sources were
/// built from (12 hex digits, "-dirty" when tracked files differ from it), or "unknown" when the
/// package is not the top of a git checkout or git is missing (a source archive, even one
/// unpacked inside another repository). Runs `git` on every build,
/// offline; the file is rewritten only when the commit changes, so nothing recompiles otherwise.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("BuildCommit.swift")
        let script = #"""
            # Only the package's own checkout counts (not a repository that merely contains it).
            top=$(git -C "$1" rev-parse --show-toplevel 2>/dev/null) && [ "$(cd "$top" && pwd -P)" = "$(cd "$1" && pwd -P)" ] \
                && commit=$(git -C "$1" rev-parse --short=12 HEAD 2>/dev/null) || commit=unknown
            if [ "$commit" != unknown ] && ! git -C "$1" diff --quiet HEAD -- 2>/dev/null; then
                commit="$commit-dirty"
            fi
            text="// Written by Plugins/BuildInfo at build time.
            let buildCommit = \"$commit\""
            [ -f "$2" ] && [ "$(cat "$2")" = "$text" ] || printf '%s\n' "$text" > "$2"
            """#
        return [
            .prebuildCommand(
                displayName: "Recording the git commit of \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path],
                outputFilesDirectory: context.pluginWorkDirectoryURL)
        ]
    }
}
