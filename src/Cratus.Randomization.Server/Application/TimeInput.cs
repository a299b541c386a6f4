using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Application;

/// <summary>
/// A time as a door received it: absent, a time, or one outside the range a time can hold. The use case reads it
/// after checking the caller's permission, so a malformed time never answers before PERMISSION_DENIED does.
/// </summary>
public readonly record struct TimeInput(DateTimeOffset? Value, bool OutOfRange)
{
    public static TimeInput Absent => default;

    public static TimeInput Of(DateTimeOffset time) => new(time, false);

    /// <summary>The time, or null when absent; INVALID_ARGUMENT naming <paramref name="field"/> when out of range.</summary>
    public DateTimeOffset? Read(string field) => OutOfRange
        ? throw TrialRuleException.Invalid(field, $"{field} must be a time between 0001-01-01 and 9999-12-31 (UTC).")
        : Value;
}
