using System.Globalization;

namespace Cratus.Benchmark;

/// <summary>The command line: each option is a name followed by its value, e.g. <c>--seconds 5</c>.</summary>
internal sealed class Options(string[] args)
{
    public int Number(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public string Text(string name, string fallback) => Value(name) ?? fallback;

    /// <summary>Whether the option is given at all.</summary>
    public bool Has(string name) => args.Contains(name);

    /// <summary>Every option a run reads, each followed by its value.</summary>
    private static readonly string[] Known =
    [
        "--store", "--connection-string", "--only", "--seconds", "--warmup", "--output", "--server", "--baseline-server",
        "--scale", "--scale-warmup", "--crash-cycles", "--target", "--client-id", "--client-secret", "--token",
        "--token-endpoint", "--site",
    ];

    public const string Usage = """
        cratus-benchmark [options]   (the report goes to docs/benchmarks.md unless --output says otherwise)
          --store sqlite|postgres|sqlserver    the servers' database (default sqlite)
          --connection-string "..."            for postgres and sqlserver
          --only health,assignment,randomize,storage,doseorder,scale,multinode,crash,deployment
          --seconds N  --warmup N              each measurement's window and warm-up (default 5 and 2)
          --output FILE                        where the report is written
          --server FOLDER                      the server build to measure (default: this repository's Release build)
          --baseline-server FOLDER             another build, measured in the same run (scale)
          --scale N  --scale-warmup N          the large trial's participants (default 100000) and its warm-up (default 10)
          --crash-cycles N                     kill -9 cycles of the crash scenario (default 100)
          --target URL --token-endpoint URL --client-id ID --client-secret S | --token T [--site CODE]
                                               load-test a running deployment (a throw-away trial in UAT mode)
        """;

    /// <summary>The first argument in an option's place that no run reads; null when there is none.</summary>
    public string? Unknown()
    {
        for (var i = 0; i < args.Length; i += 2)
            if (!Known.Contains(args[i])) return args[i];
        return null;
    }

    private string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
