using System.ComponentModel.DataAnnotations;
using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Rehearsal;

/// <summary>Rehearsal settings (UAT and training servers). Bound from the "Rehearsal" section.</summary>
public sealed class RehearsalOptions
{
    public const string Section = "Rehearsal";

    /// <summary>Whether an administrator may move the trial clock forward (AdvanceTrialClock). Off by default; a
    /// production server refuses to start with it on.</summary>
    public bool ClockControl { get; set; }

    /// <summary>How often each node reads the stored trial clock again, so a move made on another node reaches it.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")] public TimeSpan ClockRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest single move of the trial clock (a typed extra zero should not end the rehearsal).</summary>
    public static readonly TimeSpan MaxAdvance = TimeSpan.FromDays(366);
}

/// <summary>How the trial mode is written where people and programs read it.</summary>
public static class TrialModes
{
    /// <summary>The response header every reply carries (gRPC, REST, pages): production, uat or training.</summary>
    public const string Header = "cratus-trial-mode";

    /// <summary>"production", "uat" or "training": the header's value and the audience suffix.</summary>
    public static string Wire(TrialMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>The name people read: "Production", "UAT" or "Training".</summary>
    public static string Title(TrialMode mode) => mode == TrialMode.Uat ? "UAT" : mode.ToString();

    /// <summary>
    /// The token audience of a server in <paramref name="mode"/>: Token:Audience in production, and Token:Audience
    /// followed by "/uat" or "/training" otherwise, so that a rehearsal token is never accepted by a production server
    /// and a production token never by a rehearsal one. An audience already ending so is taken as it is.
    /// </summary>
    public static string Audience(string configured, TrialMode mode)
    {
        if (mode == TrialMode.Production || string.IsNullOrEmpty(configured)) return configured;
        var suffix = "/" + Wire(mode);
        return configured.EndsWith(suffix, StringComparison.Ordinal) ? configured : configured.TrimEnd('/') + suffix;
    }
}
