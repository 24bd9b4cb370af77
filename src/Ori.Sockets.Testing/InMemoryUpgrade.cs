using Microsoft.AspNetCore.Http.Features;

namespace Ori.Sockets.Testing;

/// <summary>The upgrade of an in-memory request: the server gets its end of the connection, and the client is told.</summary>
internal sealed class InMemoryUpgrade(Stream serverEnd, TaskCompletionSource upgraded) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => true;

    public Task<Stream> UpgradeAsync()
    {
        upgraded.TrySetResult();
        return Task.FromResult(serverEnd);
    }
}
