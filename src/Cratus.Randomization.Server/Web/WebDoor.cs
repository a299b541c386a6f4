using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Identity;
using Cratus.Randomization.Server.Security;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace Cratus.Randomization.Server.Web;

/// <summary>What a page gets back from an action: the result, or the refusal to show (its reason, message and the
/// fields or conditions it names).</summary>
public sealed record WebOutcome<T>(T? Value, Refusal? Refusal)
{
    public bool Succeeded => Refusal is null;

    /// <summary>The message for one form field, if the refusal names it.</summary>
    public string? At(string field) =>
        Refusal?.Fields?.Where(f => string.Equals(f.Field, field, StringComparison.OrdinalIgnoreCase)).Select(f => f.Description).FirstOrDefault();
}

/// <summary>One action of a page, given the caller and a use case resolved in the action's own scope.</summary>
public sealed class WebCall(IServiceProvider services, Caller? caller, CancellationToken cancellation)
{
    public Caller? Caller { get; } = caller;
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>The use case, fresh for this action (its own database context and transaction).</summary>
    public T Use<T>() where T : notnull => services.GetRequiredService<T>();
}

/// <summary>
/// The web application's door to the use cases, as the gRPC door is for programs: it names the caller from the web
/// session, refuses a session whose account changed since sign-in (the same check a token meets), runs the use case
/// in a scope of its own (a Blazor circuit lives for hours; a database context must not), and turns a refusal into
/// what the page shows. The use case itself checks the permission, runs the transaction and appends the audit event.
/// </summary>
public sealed partial class WebDoor(
    IServiceScopeFactory scopes, AuthenticationStateProvider authentication, CallerResolver callers, AccountCheck accountCheck,
    NavigationManager navigation, ILogger<WebDoor> logger)
{
    /// <summary>The signed-in caller, or null.</summary>
    public async Task<Caller?> CallerAsync()
    {
        var state = await authentication.GetAuthenticationStateAsync();
        return callers.Resolve(state.User);
    }

    public async Task<WebOutcome<T>> RunAsync<T>(Func<WebCall, Task<T>> action, CancellationToken ct = default)
    {
        var caller = await CallerAsync();
        try
        {
            if (caller is not null && await accountCheck.ProblemAsync(caller, tokenId: null, ct) is { } problem)
            {
                // Closed, locked or changed since sign-in: the session ends, as a token would be refused.
                navigation.NavigateTo("/web/signed-out?reason=" + Uri.EscapeDataString(problem.Reason.ToString()), forceLoad: true);
                return new WebOutcome<T>(default, problem);
            }
            await using var scope = scopes.CreateAsyncScope();
            return new WebOutcome<T>(await action(new WebCall(scope.ServiceProvider, caller, ct)), null);
        }
        catch (TrialRuleException refused)
        {
            return new WebOutcome<T>(default, new Refusal(refused.Reason, refused.Message, refused.Fields, refused.Preconditions));
        }
        catch (Exception failure) when (failure is not OperationCanceledException)
        {
            var reference = Guid.NewGuid().ToString("N")[..8];
            LogFailure(logger, reference, failure);
            return new WebOutcome<T>(default, new Refusal(RefusalReason.RequestInvalid,
                $"This could not be completed; nothing was recorded. Try again, or give the reference {reference} to the trial's support."));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A web action failed (reference {Reference})")]
    private static partial void LogFailure(ILogger logger, string reference, Exception failure);
}
