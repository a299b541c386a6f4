using System.Collections.Concurrent;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;

namespace Cratus.Randomization.Server.Identity;

/// <summary>
/// Refuses a valid access token whose account changed after it was issued: a person's account closed or locked, given
/// another role or other sites; a site system revoked or moved; or the token itself revoked (revocation endpoint, a
/// refresh token's reuse). A signature check cannot see any of this, so every call's token is compared with the
/// account as stored, read again at most every <see cref="TokenOptions.AccountCheckInterval"/> (30 s): a change
/// reaches every node within that time, and the node that made it at once (<see cref="Forget"/>). Called by the gRPC
/// access check (<see cref="Security.AccessInterceptor"/>), inside the call's deadline and error translation.
/// </summary>
public sealed class AccountCheck(IServiceScopeFactory scopes, TimeProvider clock, IOptions<TokenOptions> options)
{
    private sealed record Account(bool Usable, bool Locked, TrialRole? Role, string Sites);

    private readonly ConcurrentDictionary<string, (DateTimeOffset ReadAt, Account Account)> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset ReadAt, bool Valid, string Subject)> _tokens = new(StringComparer.Ordinal);

    /// <summary>Why this caller's token may no longer be used (ACCOUNT_LOCKED, or ACCOUNT_CHANGED), or null when it may.</summary>
    public async Task<Refusal?> ProblemAsync(Caller caller, string? tokenId, CancellationToken ct)
    {
        var account = await AccountAsync(caller, ct);
        if (account.Locked)
            return new Refusal(RefusalReason.AccountLocked, "This account is locked after repeated failed sign-ins. Try again later, or ask an administrator.");
        if (!account.Usable) return Changed("The account or client this token was issued to is closed or revoked.");
        if (account.Role != caller.Role || account.Sites != SitesKey(caller.Sites))
            return Changed("The role or sites of this account changed after the token was issued.");
        if (!string.IsNullOrEmpty(tokenId) && !await TokenValidAsync(tokenId, caller.Subject, ct)) return Changed("This token was revoked.");
        return null;
    }

    private static Refusal Changed(string why) => new(RefusalReason.AccountChanged, why + " Sign in again.");

    /// <summary>Drops what this node remembers of an account and its tokens, after changing the account or revoking
    /// its tokens.</summary>
    public void Forget(string subject)
    {
        _accounts.TryRemove("user:" + subject, out _);
        _accounts.TryRemove("client:" + subject, out _);
        foreach (var (id, entry) in _tokens)
            if (entry.Subject == subject) _tokens.TryRemove(id, out _);
    }

    private async Task<Account> AccountAsync(Caller caller, CancellationToken ct)
    {
        var key = (caller.Role == TrialRole.SiteSystem ? "client:" : "user:") + caller.Subject;
        var now = clock.GetUtcNow();
        if (_accounts.TryGetValue(key, out var known) && now - known.ReadAt < options.Value.AccountCheckInterval) return known.Account;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        Account account;
        if (caller.Role == TrialRole.SiteSystem)
        {
            var client = await db.SiteSystems.AsNoTracking().SingleOrDefaultAsync(c => c.ClientId == caller.Subject, ct);
            account = client is null ? new Account(false, false, null, "") : new Account(client.RevokedAt is null, false, TrialRole.SiteSystem, SitesKey(client.SiteList));
        }
        else
        {
            var normalized = caller.Subject.ToUpperInvariant();
            var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.NormalizedUserName == normalized, ct);
            // ASP.NET Core Identity judges lockouts by the system clock; so does this.
            account = user is null ? new Account(false, false, null, "")
                : new Account(user.Active, user.LockoutEnd > TimeProvider.System.GetUtcNow(),
                    TrialRoles.TryParse(user.Role, out var role) ? role : null, SitesKey(user.SiteList));
        }
        _accounts[key] = (now, account);
        return account;
    }

    private async Task<bool> TokenValidAsync(string tokenId, string subject, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (_tokens.TryGetValue(tokenId, out var known) && now - known.ReadAt < options.Value.AccountCheckInterval) return known.Valid;
        await using var scope = scopes.CreateAsyncScope();
        var manager = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
        var token = await manager.FindByIdAsync(tokenId, ct);
        var valid = token is not null && await manager.HasStatusAsync(token, OpenIddictConstants.Statuses.Valid, ct);
        // Tokens live minutes; forget the ones read long ago so the map stays small.
        if (_tokens.Count > 10_000)
            foreach (var (id, entry) in _tokens)
                if (now - entry.ReadAt >= options.Value.AccountCheckInterval) _tokens.TryRemove(id, out _);
        _tokens[tokenId] = (now, valid, subject);
        return valid;
    }

    private static string SitesKey(IEnumerable<string> sites) => string.Join(',', sites.Order(StringComparer.Ordinal));
}
