using System.Globalization;
using CsvHelper;

namespace Cratus.Randomization.Domain;

/// <summary>
/// The statistician's list as CSV: a header "stratum,sequence,randomization_number,arm", then one entry per line.
/// Values are plain tokens (no quoting). The whole file is parsed before anything is kept; any problem rejects it.
/// </summary>
public static class ScheduleCsv
{
    public const string Header = "stratum,sequence,randomization_number,arm";
    public const int MaxEntries = 1_000_000;

    // Plain tokens: no quoting or escaping, so a quote is an ordinary character. Empty lines are not skipped by the
    // reader, so that an empty first line is not taken for the header; below the header, Parse passes over blank lines.
    private static readonly CsvReaderOptions ReadOptions = CsvReaderOptions.Default with
    {
        Mode = CsvMode.NoEscape,
        Separator = ',',
        HasHeader = true,
        SkipEmptyLines = false,
        TrackLineNumbers = true,
    };

    private static readonly CsvWriterOptions WriteOptions = CsvWriterOptions.Default with
    {
        Mode = CsvMode.NoEscape,
        NewLine = "\n",
        FormatProvider = CultureInfo.InvariantCulture,
    };

    public sealed record ParseResult(IReadOnlyList<ScheduleEntry> Entries, IReadOnlyList<string> Problems);

    public static ParseResult Parse(string text)
    {
        using var reader = CsvReader.FromText(text, ReadOptions);
        // The header line as written (in this mode the fields joined by commas are the line itself), without
        // surrounding whitespace or a byte order mark.
        if (!string.Equals(string.Join(',', reader.Headers).Trim().TrimStart('\uFEFF'), Header, StringComparison.OrdinalIgnoreCase))
        {
            return new ParseResult([], [$"the first line must be the header \"{Header}\""]);
        }
        var problems = new List<string>();
        var entries = new List<ScheduleEntry>();
        while (reader.Read())
        {
            var fields = Array.ConvertAll(reader.Current.ToArray(), f => f.Trim());
            if (fields is [{ Length: 0 }]) continue;
            var lineNumber = reader.LineNumber;
            if (fields.Length != 4)
            {
                problems.Add($"line {lineNumber}: expected 4 values, found {fields.Length}");
            }
            else if (!int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) || sequence < 1)
            {
                problems.Add($"line {lineNumber}: sequence '{fields[1]}' must be a positive whole number");
            }
            else
            {
                entries.Add(new ScheduleEntry(fields[0], sequence, fields[2], fields[3]));
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

    /// <summary>The line a problem of <see cref="Parse"/> is on ("line 7: ..."), or null for a problem of the whole list.</summary>
    public static int? LineOf(string problem)
    {
        const string prefix = "line ";
        if (!problem.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var end = problem.IndexOf(':', prefix.Length);
        return end > prefix.Length && int.TryParse(problem.AsSpan(prefix.Length, end - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var line)
            ? line : null;
    }

    public static string Write(IEnumerable<ScheduleEntry> entries)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, WriteOptions, leaveOpen: true))
        {
            csv.WriteHeader(Header.Split(','));
            foreach (var e in entries)
            {
                csv.WriteField(e.Stratum);
                csv.WriteField(e.Sequence);
                csv.WriteField(e.RandomizationNumber);
                csv.WriteField(e.ArmCode);
                csv.EndRecord();
            }
        }
        return text.ToString();
    }
}
