using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cratus.Randomization.Domain;

/// <summary>One line of the concealed schedule: in <see cref="Stratum"/>, the participant at <see cref="Sequence"/>
/// (1-based) receives <see cref="RandomizationNumber"/> and arm <see cref="ArmCode"/>.</summary>
public sealed record ScheduleEntry(string Stratum, int Sequence, string RandomizationNumber, string ArmCode);

/// <summary>
/// The commitment to a schedule: SHA-256 over its canonical form, published before the first randomization.
/// Canonical form "cratus-schedule-v1" (UTF-8, '\n' line ends):
/// <code>
/// cratus-schedule-v1
/// trial:{trial id}
/// salt:{salt, lowercase hex}
/// {stratum},{sequence},{randomization number},{arm}   one line per entry, strata in definition order, then by sequence
/// </code>
/// The random salt keeps anyone from confirming a guessed list against the digest; it is disclosed with the list.
/// </summary>
public static class ScheduleCommitment
{
    public const string CanonicalFormName = "cratus-schedule-v1";

    /// <summary>
    /// SHA-256 of <see cref="CanonicalForm"/>, hashed as it is written, a few kilobytes at a time: a list of a quarter
    /// of a million entries is about 6 MB of text, which as one string (and its UTF-8 copy) sat on the large-object heap
    /// three times over while a schedule was stored.
    /// </summary>
    public static string Compute(TrialDefinition trial, ReadOnlySpan<byte> salt, IEnumerable<ScheduleEntry> entries)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var text = new StringBuilder(ChunkChars + 256);
        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(ChunkChars + 256)];
        void Flush()
        {
            foreach (var chunk in text.GetChunks())
            {
                if (Encoding.UTF8.GetMaxByteCount(chunk.Length) > bytes.Length) bytes = new byte[Encoding.UTF8.GetMaxByteCount(chunk.Length)];
                var length = Encoding.UTF8.GetBytes(chunk.Span, bytes);
                hash.AppendData(bytes, 0, length);
            }
            text.Clear();
        }
        foreach (var line in Lines(trial, salt.ToArray(), entries))
        {
            text.Append(line);
            if (text.Length >= ChunkChars) Flush();
        }
        Flush();
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // Whole lines are flushed together, so no character is ever split between two chunks.
    private const int ChunkChars = 4096;

    public static string CanonicalForm(TrialDefinition trial, ReadOnlySpan<byte> salt, IEnumerable<ScheduleEntry> entries) =>
        string.Concat(Lines(trial, salt.ToArray(), entries));

    /// <summary>The canonical form line by line, each with its '\n'.</summary>
    private static IEnumerable<string> Lines(TrialDefinition trial, byte[] salt, IEnumerable<ScheduleEntry> entries)
    {
        var ordinals = Strata.All(trial).ToDictionary(s => s.Key, s => s.Ordinal, StringComparer.Ordinal);
        yield return CanonicalFormName + "\n";
        yield return "trial:" + trial.TrialId + "\n";
        yield return "salt:" + Convert.ToHexStringLower(salt) + "\n";
        foreach (var e in entries.OrderBy(e => ordinals[e.Stratum]).ThenBy(e => e.Sequence))
            yield return string.Create(CultureInfo.InvariantCulture, $"{e.Stratum},{e.Sequence},{e.RandomizationNumber},{e.ArmCode}\n");
    }
}
