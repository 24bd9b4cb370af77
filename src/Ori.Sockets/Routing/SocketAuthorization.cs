using System.ComponentModel;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace Ori.Sockets;

/// <summary>
/// The authorization of a route: the <see cref="IAuthorizeData"/> of the <c>[Authorize]</c> attributes on its router and
/// on it, combined into one policy with the application's <see cref="IAuthorizationPolicyProvider"/> (cached when the
/// provider allows it) and evaluated by its <see cref="IAuthorizationService"/> against the connection's user, for every
/// message. Generated code creates one per route; a refusal is answered <c>forbidden</c> and the connection stays.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class SocketAuthorization
{
    private readonly IAuthorizeData[] _data;
    private AuthorizationPolicy? _policy;

    /// <summary>Creates the authorization of a route from its attributes' data.</summary>
    /// <param name="data">The <c>[Authorize]</c> attributes, router first.</param>
    public SocketAuthorization(params IAuthorizeData[] data) => _data = data ?? throw new ArgumentNullException(nameof(data));

    /// <summary>Whether the connection's user may send the message.</summary>
    /// <param name="context">The connection.</param>
    /// <returns><see langword="true"/> when the policy succeeds.</returns>
    /// <exception cref="InvalidOperationException">The application did not call <c>AddAuthorization()</c>.</exception>
    public async ValueTask<bool> IsAllowedAsync(SocketContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var services = context.Services;
        var policy = await PolicyAsync(services, "A route").ConfigureAwait(false);
        var result = await services.GetRequiredService<IAuthorizationService>().AuthorizeAsync(context.User, context, policy).ConfigureAwait(false);
        return result.Succeeded;
    }

    /// <summary>
    /// The attributes combined into one policy with the application's <see cref="IAuthorizationPolicyProvider"/>, cached
    /// when the provider allows it. Also what a listener evaluates for an endpoint class's <c>[Authorize]</c>.
    /// </summary>
    /// <param name="services">Where the policy provider is resolved.</param>
    /// <param name="owner">What carries the attributes, for the error ("A route", "The socket endpoint").</param>
    internal async ValueTask<AuthorizationPolicy> PolicyAsync(IServiceProvider services, string owner)
    {
        if (_policy is { } cached)
        {
            return cached;
        }

        var provider = services.GetService<IAuthorizationPolicyProvider>()
            ?? throw new InvalidOperationException($"{owner} has [Authorize]: call builder.Services.AddAuthorization() (and the policies it names).");
        var policy = await AuthorizationPolicy.CombineAsync(provider, _data).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{owner}'s [Authorize] attributes combine to no policy.");
        if (provider.AllowsCachingPolicies)
        {
            _policy = policy;
        }

        return policy;
    }
}
