using System.Globalization;

namespace Cratus.Randomization.Domain;

/// <summary>
/// The statistician's list as CSV: a header "stratum,sequence,randomization_number,arm", then one entry per line.
/// Values are plain tokens (no quoting). The whole file is parsed before anything is kept; any problem rejects it.
/// </summary>
public static class ScheduleCsv
{
    public const string Header = "stratum,sequence,randomization_number,arm";
    public const int MaxEntries = 1_000_000;

    public sealed record ParseResult(IReadOnlyList<ScheduleEntry> Entries, IReadOnlyList<string> Problems);

    public static ParseResult Parse(string text)
    {
        var problems = new List<string>();
        var entries = new List<ScheduleEntry>();
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || !string.Equals(lines[0].Trim().TrimStart('\uFEFF'), Header, StringComparison.OrdinalIgnoreCase))
        {
            return new ParseResult([], [$"the first line must be the header \"{Header}\""]);
        }
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0) continue;
            var fields = line.Split(',');
            var lineNumber = i + 1;
            if (fields.Length != 4)
            {
                problems.Add($"line {lineNumber}: expected 4 values, found {fields.Length}");
            }
            else if (!int.TryParse(fields[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || sequence < 1)
            {
                problems.Add($"line {lineNumber}: sequence '{fields[1].Trim()}' must be a positive whole number");
            }
            else
            {
                entries.Add(new ScheduleEntry(fields[0].Trim(), sequence, fields[2].Trim(), fields[3].Trim()));
            }
            if (entries.Count > MaxEntries)
            {
                return new ParseResult([], [$"the list has more than {MaxEntries} entries"]);
            }
            if (problems.Count >= 20) break;
        }
        if (entries.Count == 0 && problems.Count == 0) problems.Add("the list has no entries");
        return new ParseResult(problems.Count == 0 ? entries : [], problems);
    }

    public static string Write(IEnumerable<ScheduleEntry> entries) =>
        Header + "\n" + string.Concat(entries.Select(e =>
            string.Create(CultureInfo.InvariantCulture, $"{e.Stratum},{e.Sequence},{e.RandomizationNumber},{e.ArmCode}\n")));
}
