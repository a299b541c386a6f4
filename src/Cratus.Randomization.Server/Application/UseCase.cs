using System.Collections.Concurrent;
using System.Reflection;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application;

/// <summary>
/// Who may run a use case: the declaration on each use case class, read by <see cref="Permissions"/>. Either the
/// roles listed, or anyone signed in (<see cref="AnyoneSignedIn"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class PermittedAttribute(params TrialRole[] roles) : Attribute
{
    public IReadOnlySet<TrialRole> Roles { get; } = roles.ToHashSet();

    /// <summary>Any signed-in caller, whatever the role (reading the blinded trial, one's own account).</summary>
    public bool AnyoneSignedIn { get; init; }

    public bool Allows(TrialRole role) => AnyoneSignedIn || Roles.Contains(role);
}

/// <summary>
/// The one place a role is checked: the permission each use case declares with <see cref="PermittedAttribute"/>. A
/// use case without a declaration cannot run (and a test finds it). Object-level rules (a site's own participants) are
/// the use cases' own, through <see cref="Caller.MaySee"/>.
/// </summary>
public static class Permissions
{
    private static readonly ConcurrentDictionary<Type, PermittedAttribute> Declared = new();

    /// <summary>The permission <paramref name="useCase"/> declares.</summary>
    public static PermittedAttribute Of(Type useCase) => Declared.GetOrAdd(useCase, type =>
        type.GetCustomAttribute<PermittedAttribute>()
        ?? throw new InvalidOperationException($"use case {type.Name} declares no [Permitted]; every use case says who may run it"));

    /// <summary>The caller, if signed in and permitted to run <paramref name="useCase"/>; otherwise UNAUTHENTICATED or PERMISSION_DENIED.</summary>
    public static Caller Demand(Type useCase, Caller? caller)
    {
        var permitted = Of(useCase);
        if (caller is null)
            throw new TrialRuleException(RefusalReason.TokenMissing, "Sign in first: this call needs an access token (Authorization: Bearer ...).");
        if (!permitted.Allows(caller.Role))
            throw new TrialRuleException(RefusalReason.RoleNotPermitted,
                $"Your role ({TrialRoles.ClaimValue(caller.Role)}) may not {Describe(useCase)}.");
        return caller;
    }

    /// <summary>"randomize participant" from RandomizeParticipant: the use case's name in words.</summary>
    private static string Describe(Type useCase) =>
        string.Concat(useCase.Name.Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}

/// <summary>
/// One operation of the trial, for every door (gRPC, and the web pages in-process): it takes the caller, checks the
/// permission it declares, and then does its work — the transaction, the domain's rules and the audit append — in
/// <see cref="ExecuteAsync"/>. Doors translate their messages to <typeparamref name="TCommand"/> and the result back.
/// </summary>
public abstract class UseCase<TCommand, TResult> : Telemetry.IObservedUseCase
{
    /// <summary>Where outcomes are counted (randomizations, unblindings, refusals by reason; README, "Telemetry"): set
    /// when the use case is resolved, so that every door is counted here once.</summary>
    Telemetry.TrialMetrics? Telemetry.IObservedUseCase.Metrics { get; set; }

    public async Task<TResult> RunAsync(Caller? caller, TCommand command, CancellationToken ct)
    {
        var metrics = ((Telemetry.IObservedUseCase)this).Metrics;
        try
        {
            var result = await ExecuteAsync(Permissions.Demand(GetType(), caller), command, ct);
            metrics?.Completed(GetType());
            return result;
        }
        catch (TrialRuleException refused) when (metrics is not null)
        {
            metrics.Refused(refused.Reason);
            throw;
        }
    }

    protected abstract Task<TResult> ExecuteAsync(Caller caller, TCommand command, CancellationToken ct);
}

/// <summary>
/// An operation anyone may run before signing in: signing in itself, and the first administrator's bootstrap. It
/// proves who the caller is by what it is given (a password, a refresh token, the bootstrap secret).
/// </summary>
public abstract class PublicUseCase<TCommand, TResult> : Telemetry.IObservedUseCase
{
    /// <summary>Where its refusals are counted by reason (README, "Telemetry"); set when the use case is resolved.</summary>
    Telemetry.TrialMetrics? Telemetry.IObservedUseCase.Metrics { get; set; }

    public async Task<TResult> RunAsync(TCommand command, CancellationToken ct)
    {
        var metrics = ((Telemetry.IObservedUseCase)this).Metrics;
        try
        {
            var result = await ExecuteAsync(command, ct);
            metrics?.Completed(GetType());
            return result;
        }
        catch (TrialRuleException refused) when (metrics is not null)
        {
            metrics.Refused(refused.Reason);
            throw;
        }
    }

    protected abstract Task<TResult> ExecuteAsync(TCommand command, CancellationToken ct);
}

/// <summary>The command of a use case that needs nothing but the caller.</summary>
public readonly record struct Unit;
