namespace Cratus.Randomization.Domain;

/// <summary>
/// One stratum of the randomized phase. Its key joins the values of the stratification factors in the order the
/// trial definition lists them, separated by '/': "UM/F" for site UM and female participants. A trial without
/// factors has the single stratum "ALL".
/// </summary>
public sealed record Stratum(string Key, int Ordinal);

public static class Strata
{
    private const string Unstratified = "ALL";

    /// <summary>Every stratum of the trial, in a fixed order (sites in definition order, then female before male).</summary>
    public static IReadOnlyList<Stratum> All(TrialDefinition trial)
    {
        IEnumerable<string> keys = [""];
        foreach (var factor in trial.RandomizedPhase.StratificationFactors)
        {
            var values = ValuesOf(trial, factor);
            keys = keys.SelectMany(prefix => values.Select(v => prefix.Length == 0 ? v : prefix + "/" + v)).ToList();
        }
        return keys.Select((k, i) => new Stratum(k.Length == 0 ? Unstratified : k, i + 1)).ToList();
    }

    /// <summary>The stratum a participant of <paramref name="siteCode"/> with <paramref name="sex"/> belongs to.</summary>
    public static string KeyFor(TrialDefinition trial, string siteCode, Sex sex)
    {
        var parts = trial.RandomizedPhase.StratificationFactors.Select(f => f switch
        {
            StratificationFactor.Site => siteCode,
            StratificationFactor.Sex => SexCode(sex),
            _ => throw new ArgumentOutOfRangeException(nameof(trial), f, "unknown stratification factor"),
        }).ToList();
        return parts.Count == 0 ? Unstratified : string.Join('/', parts);
    }

    private static IReadOnlyList<string> ValuesOf(TrialDefinition trial, StratificationFactor factor) => factor switch
    {
        StratificationFactor.Site => trial.Sites.Select(s => s.Code).ToList(),
        StratificationFactor.Sex => [SexCode(Sex.Female), SexCode(Sex.Male)],
        _ => throw new ArgumentOutOfRangeException(nameof(factor), factor, "unknown stratification factor"),
    };

    private static string SexCode(Sex sex) => sex == Sex.Female ? "F" : "M";
}
