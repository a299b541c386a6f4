using System.Globalization;

namespace Cratus.Benchmark;

/// <summary>The command line: each option is a name followed by its value, e.g. <c>--seconds 5</c>.</summary>
internal sealed class Options(string[] args)
{
    public int Number(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public string Text(string name, string fallback) => Value(name) ?? fallback;

    /// <summary>Whether the option is given at all.</summary>
    public bool Has(string name) => args.Contains(name);

    private string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
}
