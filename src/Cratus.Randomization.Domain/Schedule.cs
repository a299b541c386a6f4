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

    public static string Compute(TrialDefinition trial, ReadOnlySpan<byte> salt, IEnumerable<ScheduleEntry> entries) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalForm(trial, salt, entries))));

    public static string CanonicalForm(TrialDefinition trial, ReadOnlySpan<byte> salt, IEnumerable<ScheduleEntry> entries)
    {
        var ordinals = Strata.All(trial).ToDictionary(s => s.Key, s => s.Ordinal, StringComparer.Ordinal);
        var text = new StringBuilder()
            .Append(CanonicalFormName).Append('\n')
            .Append("trial:").Append(trial.TrialId).Append('\n')
            .Append("salt:").Append(Convert.ToHexStringLower(salt)).Append('\n');
        foreach (var e in entries.OrderBy(e => ordinals[e.Stratum]).ThenBy(e => e.Sequence))
        {
            text.Append(CultureInfo.InvariantCulture, $"{e.Stratum},{e.Sequence},{e.RandomizationNumber},{e.ArmCode}\n");
        }
        return text.ToString();
    }
}
