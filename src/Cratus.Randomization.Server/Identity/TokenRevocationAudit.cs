using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Identity;

/// <summary>
/// Records in the audit trail each token the revocation endpoint revoked, and has this node forget what it knew of it (a sign-out from the CLI or the web, or a
/// site system giving up a token): whose token, of which kind, at which client's request. Runs after OpenIddict has
/// revoked it; a refused request records nothing.
/// </summary>
public sealed class TokenRevocationAudit(IServiceScopeFactory scopes, IOptions<TokenOptions> options, AccountCheck accountCheck)
    : IOpenIddictServerHandler<HandleRevocationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleRevocationRequestContext>()
        .UseScopedHandler<TokenRevocationAudit>()
        .SetOrder(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor.Order + 1_000)
        .SetType(OpenIddictServerHandlerType.Custom)
        .Build();

    public async ValueTask HandleAsync(HandleRevocationRequestContext context)
    {
        if (context.IsRejected || context.GenericTokenPrincipal is not { } token) return;
        var subject = token.GetClaim(OpenIddictConstants.Claims.Subject) ?? context.Request.ClientId ?? "unknown";
        var role = token.GetClaim(options.Value.RoleClaim) ?? "";
        var kind = token.GetTokenType() is { } type ? type.Replace("urn:ietf:params:oauth:token-type:", "", StringComparison.Ordinal) : "token";
        // On a context of its own, not the one OpenIddict is tracking its token in (see OpenIdServer.WithOwnAccountsAsync).
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TrialDbContext>();
        var audit = scope.ServiceProvider.GetRequiredService<AuditTrail>();
        await db.InTransactionAsync(async t =>
        {
            await audit.AppendAsync(new AuditActor(subject, role), AuditActions.TokenRevoked, subject, t,
                details: $"{kind} revoked at the request of client {context.Request.ClientId}");
            return 0;
        }, context.CancellationToken);
        // Refused at once on this node, and within the account check interval on the others.
        accountCheck.Forget(subject);
    }
}
