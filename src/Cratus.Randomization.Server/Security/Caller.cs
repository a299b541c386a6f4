using System.Security.Claims;
using Cratus.Randomization.Server.Application;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Security;

/// <summary>Reads a <see cref="Caller"/> from a principal with the configured claim names.</summary>
public sealed class CallerResolver(IOptions<TokenOptions> options)
{
    public Caller? Resolve(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true) return null;
        var o = options.Value;
        var subject = user.FindFirst(o.SubjectClaim)?.Value;
        var roles = user.FindAll(o.RoleClaim).Select(c => c.Value).ToList();
        // Exactly one role: a token carrying two roles is refused rather than guessed at.
        if (string.IsNullOrEmpty(subject) || roles.Count != 1 || !TrialRoles.TryParse(roles[0], out var role)) return null;
        var sites = user.FindAll(o.SiteClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        return new Caller(subject, role, sites);
    }
}
